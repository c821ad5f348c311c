package channels

// The wire error codes of channel operations: the "code" of the
// {"type":"error","code":...} message a client receives when a subscribe,
// unsubscribe, publish or presence query is refused, and of the HTTP API's answers
// about channels. They are a contract like the rest of the wire format
// (protocol's TestEveryErrorCodeAnswersWithItsFrame holds a row for each).
const (
	// CodeInvalidChannel: the channel name is empty, longer than MaxNameLength, not
	// valid UTF-8, or contains a control character or whitespace.
	CodeInvalidChannel = "invalid_channel"
	// CodeAlreadySubscribed: the connection is subscribed to the channel already.
	CodeAlreadySubscribed = "already_subscribed"
	// CodeNotSubscribed: an unsubscribe from a channel the connection is not in.
	CodeNotSubscribed = "not_subscribed"
	// CodeTooManySubscriptions: the connection holds its maximum of subscriptions.
	CodeTooManySubscriptions = "too_many_subscriptions"
	// CodeTooManySubscribers: the channel holds its namespace's max_subscribers.
	CodeTooManySubscribers = "too_many_subscribers"
	// CodePermissionDenied: neither the namespace nor the connection's token allows
	// the operation to this connection.
	CodePermissionDenied = "permission_denied"
	// CodePublishNotAllowed: the channel's namespace takes no client publications
	// (publish: off) and the token grants none.
	CodePublishNotAllowed = "publish_not_allowed"
	// CodePresenceNotEnabled: a presence query for a channel whose namespace keeps
	// no presence (its presence option is off).
	CodePresenceNotEnabled = "presence_not_enabled"
	// CodeInvalidCursor: a presence query's cursor is not one a page returned.
	CodeInvalidCursor = "invalid_cursor"
	// CodePresenceUnavailable: in a cluster, a presence query could not be answered
	// (Redis did not answer, or the node's presence workers are busy).
	CodePresenceUnavailable = "presence_unavailable"
)

// Error is a refused channel operation: Code is one of the Code constants, the wire
// error code; Message is a human-readable explanation fit to send to the client (it
// never repeats the channel name, which the client knows). Errors of this package are
// *Error values, so errors.As finds the code; errors.Is(err, ErrInvalidChannel) holds
// for every invalid name, whatever its message.
type Error struct {
	Code    string
	Message string
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Is reports whether target is an *Error with the same code.
func (e *Error) Is(target error) bool {
	other, ok := target.(*Error)
	return ok && other.Code == e.Code
}

// The errors of this package, one per wire code. Operations return these values, or
// for invalid names an *Error with CodeInvalidChannel and a more precise message.
var (
	ErrInvalidChannel       = &Error{CodeInvalidChannel, "invalid channel name"}
	ErrAlreadySubscribed    = &Error{CodeAlreadySubscribed, "already subscribed to this channel"}
	ErrNotSubscribed        = &Error{CodeNotSubscribed, "not subscribed to this channel"}
	ErrTooManySubscriptions = &Error{CodeTooManySubscriptions, "this connection holds its maximum number of subscriptions"}
	ErrTooManySubscribers   = &Error{CodeTooManySubscribers, "this channel holds its maximum number of subscribers"}
	ErrPermissionDenied     = &Error{CodePermissionDenied, "permission denied"}
	ErrPublishNotAllowed    = &Error{CodePublishNotAllowed, "this channel does not accept publications from clients"}
)
