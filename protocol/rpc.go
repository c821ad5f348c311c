package protocol

import "encoding/json"

// Error codes of rpc_error, and of the error that answers a subscribe or publish
// whose backend check failed. Codes the backend gives in its
// {"error":{"code":...}} answer are passed on as they are; these are the
// gateway's own.
const (
	// ErrorBackendUnavailable: the backend could not answer: it is down, slow (the
	// call timed out), overloaded (the gateway's queue of calls is full) or failing
	// (its circuit breaker is open). Trying again later may succeed.
	ErrorBackendUnavailable = "backend_unavailable"
	// ErrorBackendError: the backend answered, but not with a valid answer (a
	// malformed body, a 4xx status). Trying again will not help.
	ErrorBackendError = "backend_error"
	// ErrorRPCNotConfigured: the gateway has no RPC backend (-rpc-url is not set).
	ErrorRPCNotConfigured = "rpc_not_configured"
	// ErrorTooManyRPCs: the connection already has as many rpcs in flight as it
	// may; this one was not sent to the backend.
	ErrorTooManyRPCs = "too_many_rpcs"
)

// RPCResult is the answer to an rpc the backend ran:
// {"type":"rpc_result","id":...,"data":...}.
type RPCResult struct {
	// ID is the raw JSON of the rpc's "id".
	ID json.RawMessage
	// Data is the raw JSON of the backend's result data, sent byte for byte; nil is
	// sent as null.
	Data json.RawMessage
}

// Frame encodes the result as a text frame.
func (r RPCResult) Frame() []byte {
	data := r.Data
	if data == nil {
		data = nullContent
	}
	payload, _ := json.Marshal(struct {
		Type string          `json:"type"`
		ID   json.RawMessage `json:"id"`
		Data json.RawMessage `json:"data"`
	}{TypeRPCResult, r.ID, data})
	return TextFrame(payload)
}

// RPCError is the answer to an rpc that failed:
// {"type":"rpc_error","id":...,"code":"...","message":"..."}, with the backend's
// code or one of the gateway's (ErrorBackendUnavailable, ErrorBackendError,
// ErrorRPCNotConfigured, ErrorTooManyRPCs).
type RPCError struct {
	ID      json.RawMessage
	Code    string
	Message string
}

// Frame encodes the error as a text frame.
func (e RPCError) Frame() []byte {
	payload, _ := json.Marshal(struct {
		Type    string          `json:"type"`
		ID      json.RawMessage `json:"id"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
	}{TypeRPCError, e.ID, e.Code, e.Message})
	return TextFrame(payload)
}
