/** Close codes of the wsgate protocol (docs/protocol.md, "Close codes"). */
export declare const CloseCode: Readonly<{
  NORMAL: 1000;
  GOING_AWAY: 1001;
  ABNORMAL: 1006;
  LIMIT: 1008;
  TOO_BIG: 1009;
  INTERNAL: 1011;
  TRY_AGAIN_LATER: 1013;
  HEARTBEAT_TIMEOUT: 4000;
  SLOW_CONSUMER: 4001;
  RATE_LIMITED: 4002;
  BACKEND_UNAVAILABLE: 4003;
  TOKEN_EXPIRED: 4100;
  UNAUTHORIZED: 4401;
  KICKED: 4403;
}>;

/** What the client does after a close code. */
export type ClosePolicy = 'stop' | 'refresh' | 'going-away' | 'backoff';

/** The policy for a close code: 1000 and 4400-4499 stop, 4100-4199 refresh the token, 1001 reconnects after a short random delay, all else backs off. */
export declare function closePolicy(code: number): ClosePolicy;

/** Full-jitter delay in milliseconds before reconnect attempt `attempt` (1-based): random() * min(maxDelay, baseDelay * 2 ** (attempt - 1)). */
export declare function backoffDelay(attempt: number, baseDelay: number, maxDelay: number, random: () => number): number;

/** The clock the client schedules with. */
export interface Timers {
  setTimeout(callback: () => void, milliseconds: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** A WebSocket constructor: the browser's, Node 22's, or the `ws` package's. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => {
  readonly readyState: number;
  onopen: ((event: unknown) => void) | null;
  onmessage: ((event: { data: unknown }) => void) | null;
  onerror: ((event: unknown) => void) | null;
  onclose: ((event: { code: number; reason: string }) => void) | null;
  send(data: string): void;
  close(code?: number, reason?: string): void;
};

/** Options of WsgateClient; times are in milliseconds. */
export interface ClientOptions {
  /** The WebSocket endpoint, e.g. `ws://localhost:8080/api/v1/ws`. */
  url: string;
  /** The WebSocket implementation; default `globalThis.WebSocket` (in Node 20 pass the `ws` package's export). */
  WebSocket?: WebSocketConstructor;
  /** WebSocket subprotocols to offer; with a token in the subprotocol, `wsgate.v1` and `bearer.<token>` are added. */
  protocols?: string | string[];
  /** Returns a token; called before the first connection and after every 4100 (token expired) close. */
  getToken?: () => string | Promise<string>;
  /**
   * Where the token goes. Default `"protocol"`: offered as the subprotocol `bearer.<token>` beside `wsgate.v1`,
   * out of URLs (which end up in proxies' logs). `"query"`: in the URL as `?token=`.
   */
  tokenIn?: 'protocol' | 'query';
  /** Builds the URL of each connection; default: `url`, with the token as query parameter `token` when `tokenIn` is `"query"`. */
  buildUrl?: (url: string, token: string | undefined) => string;
  /** Backoff base. Default 500. */
  baseDelay?: number;
  /** Backoff cap. Default 30000. */
  maxDelay?: number;
  /** Upper bound of the random delay after 1001 (server shutting down). Default 2000. */
  goingAwayDelay?: number;
  /** A connection open this long resets the attempt counter. Default 5000. */
  stableAfter?: number;
  /** A connection not open after this long is dropped. Default 10000. */
  connectTimeout?: number;
  /** Heartbeat interval assumed until the server's welcome. Default 30000. */
  pingInterval?: number;
  /** Heartbeat timeout assumed until the server's welcome; silence for pingInterval + pingTimeout drops the socket. Default 10000. */
  pingTimeout?: number;
  /** Send `{"type":"hello"}` on open to learn the heartbeat settings. Default true. */
  hello?: boolean;
  /** Messages kept while offline; more are refused. Default 100. */
  queueSize?: number;
  /** Random source in [0, 1) for jitter. Default Math.random. */
  random?: () => number;
  /** The clock. Default the global setTimeout/clearTimeout. */
  timers?: Timers;
  /** Receives `online` events (reconnect at once). Default globalThis in browsers, none in Node. */
  onlineTarget?: EventTarget | null;
  /**
   * Returns a subscription token for a channel; called before every subscribe (so after every reconnect) of a
   * subscription without a `getToken` of its own. Default none: subscribes carry no token.
   */
  getSubscriptionToken?: (channel: string) => string | Promise<string>;
  /** Receives the publications of channels this client did not subscribe to itself (the server's own subscriptions). */
  onPublication?: (publication: Publication) => void;
}

/** The state of a WsgateClient. */
export type ClientState = 'connecting' | 'open' | 'reconnecting' | 'closed';

/** The server's answer to hello. */
export interface Welcome {
  type: 'welcome';
  connection_id: string;
  user_id: string | null;
  ping_interval_ms: number;
  ping_timeout_ms: number;
}

/** Detail of the `close` event. */
export interface CloseDetail {
  /** The close code: 1006 without a close frame, 4000 when the client found the server silent. */
  code: number;
  reason: string;
  /** Whether the client will try again. */
  willReconnect: boolean;
}

/** Detail of the `reconnecting` event. */
export interface ReconnectingDetail {
  /** 1 for the first attempt after a stable connection. */
  attempt: number;
  /** Milliseconds until the attempt. */
  delay: number;
}

/** A decoded server message. */
export interface ServerMessage {
  type: string;
  [field: string]: unknown;
}

/** A publication: `data` is the published JSON value; fields the server adds later are kept. */
export interface Publication {
  type: 'publication';
  channel: string;
  data: unknown;
  /** Its place in the channel's stream, in a channel with history: increasing by one per publication. */
  offset?: number;
  [field: string]: unknown;
}

/** A place in a channel's stream: a publication's offset (0 before the first) and the stream's epoch, which changes when the server started the stream over. */
export interface Position {
  offset: number;
  epoch: string;
}

/** The server's `subscribed` message; fields the server adds later are kept. */
export interface SubscribedMessage {
  type: 'subscribed';
  channel: string;
  id?: string | number;
  /** The offset of the channel's last publication, in a channel with history. */
  offset?: number;
  /** The epoch of the channel's stream, in a channel with history. */
  epoch?: string;
  /** The answer to a subscribe that asked to recover. */
  recovered?: boolean;
  [field: string]: unknown;
}

/** Detail of a subscription's `recovery` event. */
export interface RecoveryDetail {
  channel: string;
  /**
   * true: every publication missed while disconnected follows, in order, before the live ones. false: they are lost
   * (history too short, stream restarted, history unavailable); reload the state from the backend.
   */
  recovered: boolean;
  /** Where the subscription now is (on false the server's current position), or null when the channel has no history any more. */
  position: Position | null;
}

/** The server's `unsubscribed` message for a subscription it removed, with its reason. */
export interface UnsubscribedMessage {
  type: 'unsubscribed';
  channel: string;
  reason?: string;
  [field: string]: unknown;
}

/** Error codes of channel requests (docs/protocol.md, "Channels"). */
export declare const ChannelErrorCode: Readonly<{
  INVALID_CHANNEL: 'invalid_channel';
  PERMISSION_DENIED: 'permission_denied';
  ALREADY_SUBSCRIBED: 'already_subscribed';
  NOT_SUBSCRIBED: 'not_subscribed';
  TOO_MANY_SUBSCRIPTIONS: 'too_many_subscriptions';
  TOO_MANY_SUBSCRIBERS: 'too_many_subscribers';
  PUBLISH_NOT_ALLOWED: 'publish_not_allowed';
  RATE_LIMITED: 'rate_limited';
  PRESENCE_NOT_ENABLED: 'presence_not_enabled';
  INVALID_CURSOR: 'invalid_cursor';
  PRESENCE_UNAVAILABLE: 'presence_unavailable';
}>;

/** A channel request the server refused. */
export declare class ChannelError extends Error {
  constructor(answer: { code?: unknown; message?: unknown; channel?: unknown; id?: unknown });
  readonly name: 'ChannelError';
  /** The error code, e.g. `"permission_denied"`. */
  readonly code: string;
  /** The channel of the refused request. */
  readonly channel: string | undefined;
  /** The id of the refused request, as the client sent it. */
  readonly id: string | number | undefined;
  /** Whether the same request may succeed later (`rate_limited`, `too_many_subscribers`); a subscription then retries by itself. */
  readonly temporary: boolean;
}

/** The state of a Subscription; `unsubscribed` and `failed` are final. */
export type SubscriptionState = 'subscribing' | 'subscribed' | 'unsubscribed' | 'failed';

/** Events of a Subscription and their details. */
export interface SubscriptionEvents {
  /** The server confirmed the subscription; again after every reconnect. */
  subscribed: SubscribedMessage;
  /**
   * After each resubscribe of a subscription with a position (a channel with history), right after `subscribed`:
   * whether what was missed follows. None after the first subscribe unless it was made with `since`.
   */
  recovery: RecoveryDetail;
  /** A ChannelError, or the error of the subscription's getToken; `state` says whether it retries. */
  error: ChannelError | unknown;
  /** The subscription ended: `reason` is the server's when it removed it, undefined after `unsubscribe()`. */
  unsubscribed: { channel: string; reason: string | undefined };
  /** In a namespace with `join_leave`: a user's first connection subscribed to the channel. */
  join: PresenceEventMessage;
  /** In a namespace with `join_leave`: a user's last connection left the channel. */
  leave: PresenceEventMessage;
  /** The joins and leaves of one period while the server coalesces them under churn. */
  presence_diff: PresenceDiffMessage;
}

/** A `join` or `leave` message. */
export interface PresenceEventMessage {
  type: 'join' | 'leave';
  channel: string;
  user: string;
}

/** A `presence_diff` message: the users, or only their counts when too many changed (ask `presence()` then). */
export type PresenceDiffMessage =
  | { type: 'presence_diff'; channel: string; joins: string[]; leaves: string[] }
  | { type: 'presence_diff'; channel: string; join_count: number; leave_count: number };

/** One page of a channel's presence. */
export interface PresencePage {
  type: 'presence';
  channel: string;
  /** Each user listed and its number of connections subscribed. */
  users: Record<string, number>;
  total_users: number;
  total_connections: number;
  /** The next page's cursor; "" on the last page. */
  cursor: string;
}

/** A channel's presence counts. */
export interface PresenceStats {
  type: 'presence_stats';
  channel: string;
  users: number;
  connections: number;
}

/** Options of `WsgateClient.subscribe`. */
export interface SubscribeOptions {
  /** Returns a subscription token; called before every subscribe, so a fresh one after every reconnect. Default the client's `getSubscriptionToken`. */
  getToken?: (channel: string) => string | Promise<string>;
  /**
   * A position the application already has (the backend's history or publish answers, a subscription's `position`
   * kept across a page load): the first subscribe recovers from it too, followed by a `recovery` event.
   */
  since?: Position;
}

/** A client's subscription to one channel, renewed after every reconnect until it ends. */
export declare class Subscription {
  private constructor();
  /** The channel name. */
  readonly channel: string;
  /** The current state. */
  readonly state: SubscriptionState;
  /**
   * The position the next resubscribe recovers from (the last delivered publication's offset, or the stream's top at
   * subscribe, and the epoch); null in a channel without history and before the first `subscribed` without `since`.
   */
  readonly position: Position | null;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof SubscriptionEvents>(type: K, listener: (detail: SubscriptionEvents[K]) => void): () => void;
  /** Removes a listener. */
  off<K extends keyof SubscriptionEvents>(type: K, listener: (detail: SubscriptionEvents[K]) => void): void;
  /** Ends the subscription at once (an `unsubscribed` event without reason follows); tells the server when it holds it. */
  unsubscribe(): void;
  /**
   * One page of the channel's presence (a namespace with `presence`; the subscription must be subscribed); pass the
   * page's non-empty `cursor` back for the next. Rejects with a ChannelError (`not_subscribed`,
   * `presence_not_enabled`, `invalid_cursor`, `presence_unavailable`) or an Error without an open connection.
   */
  presence(options?: { limit?: number; cursor?: string }): Promise<PresencePage>;
  /** The channel's presence counts; rejects as `presence()` does. */
  presenceStats(): Promise<PresenceStats>;
}

/** Events of WsgateClient and their details. */
export interface ClientEvents {
  open: undefined;
  welcome: Welcome;
  /** Any server message except ping, welcome and channel messages. */
  message: ServerMessage;
  close: CloseDetail;
  reconnecting: ReconnectingDetail;
  overflow: { message: object | string };
  /** A transport error, a failed getToken, a message that is not JSON, or a ChannelError for a refused publish. */
  error: unknown;
  /** The server subscribed this connection to a channel by itself; its publications go to `onPublication`. */
  subscribed: SubscribedMessage;
  /** The server ended one of its own subscriptions of this connection. */
  unsubscribed: UnsubscribedMessage;
}

/** A reconnecting wsgate connection. */
export declare class WsgateClient {
  constructor(options: ClientOptions);
  /** The current state. */
  readonly state: ClientState;
  /** The server's last welcome, or null. */
  readonly welcome: Welcome | null;
  /** Messages waiting in the offline queue. */
  readonly queued: number;
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof ClientEvents>(type: K, listener: (detail: ClientEvents[K]) => void): () => void;
  /** Removes a listener. */
  off<K extends keyof ClientEvents>(type: K, listener: (detail: ClientEvents[K]) => void): void;
  /** Starts connecting and reconnecting. */
  connect(): void;
  /** Sends (or queues while offline) a message; false when the queue is full. */
  send(message: object | string): boolean;
  /**
   * Subscribes to a channel, now or once connected, and again after every reconnect (recovering what was missed in a
   * channel with history: see the `recovery` event). A permanent refusal fails this subscription only. Throws when this
   * client is subscribed to the channel already, or when `since` is not a Position.
   */
  subscribe(channel: string, handler?: (publication: Publication) => void, options?: SubscribeOptions): Subscription;
  /** Ends this client's subscription to the channel, or the server's own subscription of this connection to it. */
  unsubscribe(channel: string): void;
  /**
   * Publishes a JSON value to a channel (queued while offline). Resolves once written to the socket, without waiting for
   * the server's `published` (which the client drops); a refusal arrives afterwards as an `error` event with a ChannelError carrying the publish's id. Rejects when the
   * queue is full, data is not JSON, or `close()` comes before it was written.
   */
  publish(channel: string, data: unknown): Promise<void>;
  /** Stops for good: closes the socket and cancels every timer; subscriptions are kept, queued publications rejected. */
  close(code?: number, reason?: string): void;
}
