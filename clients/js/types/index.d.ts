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

/** Events of WsgateClient and their details. */
export interface ClientEvents {
  open: undefined;
  welcome: Welcome;
  message: ServerMessage;
  close: CloseDetail;
  reconnecting: ReconnectingDetail;
  overflow: { message: object | string };
  error: unknown;
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
  /** Stops for good: closes the socket and cancels every timer. */
  close(code?: number, reason?: string): void;
}
