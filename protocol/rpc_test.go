package protocol

import "testing"

func TestDecodeReadsAnRPC(t *testing.T) {
	for _, test := range []struct {
		text, id, method, data string
	}{
		{`{"type":"rpc","id":7,"method":"sum","data":[1,2]}`, `7`, "sum", `[1,2]`},
		{`{"type":"rpc","id":"a-1","method":"ping"}`, `"a-1"`, "ping", `null`},
		{`{"data":{"x":"é"},"method":"m","id":-1.5,"type":"rpc"}`, `-1.5`, "m", `{"x":"é"}`},
	} {
		message, refusal, ok := Decode([]byte(test.text))
		if !ok || message.Type != TypeRPC || string(message.ID) != test.id || message.Method != test.method ||
			string(message.Data) != test.data {
			t.Errorf("Decode(%s) = %+v, %v", test.text, message, refusal)
		}
	}
}

func TestDecodeRefusesAnRPCWithoutItsFields(t *testing.T) {
	for _, test := range []struct {
		text, answer string
	}{
		{`{"type":"rpc","method":"m"}`, `{"type":"error","code":"invalid_field","message":"an rpc needs an \"id\", a string or a number"}`},
		{`{"type":"rpc","id":null,"method":"m"}`, `{"type":"error","code":"invalid_field","message":"an rpc needs an \"id\", a string or a number"}`},
		{`{"type":"rpc","id":{},"method":"m"}`, `{"type":"error","code":"invalid_field","message":"an rpc needs an \"id\", a string or a number"}`},
		{`{"type":"rpc","id":1}`, `{"type":"error","code":"invalid_field","message":"an rpc needs a \"method\", a non-empty string","id":1}`},
		{`{"type":"rpc","id":"x","method":""}`, `{"type":"error","code":"invalid_field","message":"an rpc needs a \"method\", a non-empty string","id":"x"}`},
		{`{"type":"rpc","id":2,"method":3}`, `{"type":"error","code":"invalid_field","message":"an rpc needs a \"method\", a non-empty string","id":2}`},
		{`{"type":"rpc_result","id":2}`, `{"type":"error","code":"unknown_type","message":"unknown message type \"rpc_result\""}`},
	} {
		checkRefusedWith(t, test.text, test.answer)
	}
}

func TestRPCAnswersEncodeTheirFields(t *testing.T) {
	for _, test := range []struct {
		frame []byte
		want  string
	}{
		{RPCResult{ID: []byte(`7`), Data: []byte(`{"sum": 3}`)}.Frame(), `{"type":"rpc_result","id":7,"data":{"sum":3}}`},
		{RPCResult{ID: []byte(`"a"`)}.Frame(), `{"type":"rpc_result","id":"a","data":null}`},
		{RPCError{ID: []byte(`7`), Code: ErrorBackendUnavailable, Message: "down"}.Frame(),
			`{"type":"rpc_error","id":7,"code":"backend_unavailable","message":"down"}`},
		{RPCError{ID: []byte(`"b"`), Code: "not_allowed", Message: `<"x">`}.Frame(),
			`{"type":"rpc_error","id":"b","code":"not_allowed","message":"\u003c\"x\"\u003e"}`},
	} {
		if got := string(FramePayload(test.frame)); got != test.want {
			t.Errorf("got\n%s\nwant\n%s", got, test.want)
		}
	}
}
