/**
 * Close codes and what the client does after each, and the reconnect backoff: the
 * policies of docs/protocol.md ("Close codes"), pure functions.
 *
 * @module @wsgate/client/policy
 */

/**
 * Close codes of the wsgate protocol (docs/protocol.md, "Close codes").
 * @readonly
 * @enum {number}
 */
export const CloseCode = Object.freeze({
  /** The client closed; terminal. */
  NORMAL: 1000,
  /** The server is shutting down; reconnect after a random short delay. */
  GOING_AWAY: 1001,
  /** No close frame: the peer vanished or the transport failed; back off. */
  ABNORMAL: 1006,
  /** The user already holds the per-user connection limit; back off. */
  LIMIT: 1008,
  /** A message exceeded the server's size limit; back off. */
  TOO_BIG: 1009,
  /** An unexpected server error; back off. */
  INTERNAL: 1011,
  /** The node is full, or took its rate of new connections; back off. */
  TRY_AGAIN_LATER: 1013,
  /** No frame within the ping timeout (from the server, or detected by this client); back off. */
  HEARTBEAT_TIMEOUT: 4000,
  /** The client did not read fast enough; back off. */
  SLOW_CONSUMER: 4001,
  /** The client sent over its rate limit; back off. */
  RATE_LIMITED: 4002,
  /** The backend did not answer the connect callback; back off. */
  BACKEND_UNAVAILABLE: 4003,
  /** The token expired; get a fresh one, then reconnect. */
  TOKEN_EXPIRED: 4100,
  /** Missing or invalid credentials; terminal. */
  UNAUTHORIZED: 4401,
  /** The backend disconnected the client on purpose; terminal. */
  KICKED: 4403,
});

/**
 * What the client does after a close code: `"stop"` (terminal), `"refresh"` (get a
 * fresh token, then reconnect with backoff), `"going-away"` (reconnect after a random
 * delay within `goingAwayDelay`) or `"backoff"` (reconnect with exponential backoff).
 *
 * @param {number} code a WebSocket close code
 * @returns {"stop" | "refresh" | "going-away" | "backoff"}
 */
export function closePolicy(code) {
  if (code === CloseCode.NORMAL || (code >= 4400 && code <= 4499)) {
    return 'stop';
  }
  if (code >= 4100 && code <= 4199) {
    return 'refresh';
  }
  if (code === CloseCode.GOING_AWAY) {
    return 'going-away';
  }
  return 'backoff';
}

/**
 * The full-jitter backoff delay before reconnect attempt number `attempt` (1 for the
 * first reconnect): `random() * min(maxDelay, baseDelay * 2 ** (attempt - 1))`.
 *
 * @param {number} attempt the reconnect attempt, 1 or more
 * @param {number} baseDelay milliseconds
 * @param {number} maxDelay milliseconds
 * @param {() => number} random returns a number in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, baseDelay, maxDelay, random) {
  const ceiling = Math.min(maxDelay, baseDelay * 2 ** Math.max(0, attempt - 1));
  return random() * ceiling;
}
