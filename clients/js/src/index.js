/**
 * A wsgate client for browsers and Node 20+: one WebSocket that reconnects with
 * exponential backoff and full jitter, follows the close-code policies of
 * docs/protocol.md, answers heartbeat pings, detects a dead server, queues what is
 * sent while offline, and keeps channel subscriptions across reconnects. No runtime
 * dependencies.
 *
 * @module @wsgate/client
 */

import { ChannelRouter } from './channels.js';
import { Listeners } from './listeners.js';
import { CloseCode, backoffDelay, closePolicy } from './policy.js';

export { ChannelError, ChannelErrorCode, Subscription } from './channels.js';
export { CloseCode, backoffDelay, closePolicy } from './policy.js';

const OPEN = 1;
const PONG = '{"type":"pong"}';
const HELLO = '{"type":"hello"}';
// SUBPROTOCOL is wsgate's protocol name, which the server selects when offered;
// TOKEN_PREFIX starts the offered value that carries a token (docs/protocol.md,
// "Authentication").
const SUBPROTOCOL = 'wsgate.v1';
const TOKEN_PREFIX = 'bearer.';
// A subprotocol value must be an HTTP token (RFC 9110 section 5.6.2); a JWT is one.
const HTTP_TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/**
 * @typedef {object} Timers
 * @property {(callback: () => void, milliseconds: number) => unknown} setTimeout
 * @property {(handle: unknown) => void} clearTimeout
 */

/**
 * @typedef {object} ClientOptions
 * @property {string} url the WebSocket endpoint, e.g. `ws://localhost:8080/api/v1/ws`
 * @property {typeof WebSocket} [WebSocket] the WebSocket implementation; default
 *   `globalThis.WebSocket` (Node 20 has none: pass the `ws` package's export)
 * @property {string | string[]} [protocols] WebSocket subprotocols to offer; the token's
 *   subprotocol and `wsgate.v1` are added to them (see `tokenIn`)
 * @property {() => string | Promise<string>} [getToken] returns a token; called before the
 *   first connection and after every 4100 (token expired) close
 * @property {"protocol" | "query"} [tokenIn="protocol"] where the token goes: `"protocol"`
 *   offers it as the subprotocol `bearer.<token>` beside `wsgate.v1`, which keeps it out of
 *   URLs (they end up in proxies' logs) and works in browsers, which cannot set headers;
 *   `"query"` puts it in the URL as `?token=` (for a proxy in between that drops
 *   subprotocols, or a token that is not a valid subprotocol name)
 * @property {(url: string, token: string | undefined) => string} [buildUrl] builds the URL
 *   of each connection; default: `url`, with the token as query parameter `token` when
 *   `tokenIn` is `"query"`
 * @property {number} [baseDelay=500] backoff base, milliseconds
 * @property {number} [maxDelay=30000] backoff cap, milliseconds
 * @property {number} [goingAwayDelay=2000] upper bound of the random delay after 1001, milliseconds
 * @property {number} [stableAfter=5000] a connection open this long resets the attempt counter, milliseconds
 * @property {number} [connectTimeout=10000] a connection not open after this long is dropped, milliseconds
 * @property {number} [pingInterval=30000] heartbeat interval assumed until the server's welcome, milliseconds
 * @property {number} [pingTimeout=10000] heartbeat timeout assumed until the server's welcome, milliseconds;
 *   with nothing received for pingInterval + pingTimeout the socket is dropped (0 for both disables)
 * @property {boolean} [hello=true] send `{"type":"hello"}` on open to learn the heartbeat settings
 * @property {number} [queueSize=100] messages kept while offline; more are refused (see `overflow`)
 * @property {() => number} [random=Math.random] random source in [0, 1) for jitter
 * @property {Timers} [timers] clock; default the global setTimeout/clearTimeout
 * @property {EventTarget | null} [onlineTarget] receives `online` events (reconnect at once);
 *   default `globalThis` in browsers, none in Node
 * @property {(channel: string) => string | Promise<string>} [getSubscriptionToken] returns a
 *   subscription token for channel; called before every subscribe of a subscription that has
 *   no `getToken` of its own (so after every reconnect); default none: subscribes carry no token
 * @property {(publication: Publication) => void} [onPublication] receives the publications of
 *   channels this client did not subscribe to itself: those the server subscribed the
 *   connection to (see the `subscribed` event)
 */

/**
 * @typedef {object} Publication
 * @property {"publication"} type
 * @property {string} channel
 * @property {unknown} data the published JSON value
 * @property {number} [offset] its place in the channel's stream, in a channel with
 *   history (increasing by one per publication)
 */

/**
 * @typedef {object} CloseEventDetail
 * @property {number} code the close code (1006 when there was no close frame; 4000 when this
 *   client found the server silent)
 * @property {string} reason the close reason
 * @property {boolean} willReconnect whether the client will try again
 */

/**
 * @typedef {object} ReconnectingDetail
 * @property {number} attempt the reconnect attempt, 1 for the first after a stable connection
 * @property {number} delay milliseconds until the attempt
 */

/**
 * @typedef {object} Welcome
 * @property {string} connection_id
 * @property {string | null} user_id
 * @property {number} ping_interval_ms
 * @property {number} ping_timeout_ms
 */

const defaultTimers = {
  setTimeout: (callback, milliseconds) => globalThis.setTimeout(callback, milliseconds),
  clearTimeout: (handle) => globalThis.clearTimeout(handle),
};

/**
 * A reconnecting wsgate connection. Create it, add listeners with `on`, then call
 * `connect()`. Events:
 * - `open` (no detail): a connection is open; queued messages have been sent.
 * - `welcome` ({@link Welcome}): the server answered hello.
 * - `message` (the decoded JSON object): any server message except `ping` and `welcome`.
 * - `close` ({@link CloseEventDetail}): a connection or connection attempt ended.
 * - `reconnecting` ({@link ReconnectingDetail}): a reconnect is scheduled.
 * - `overflow` ({ message }): `send` refused a message because the offline queue is full.
 * - `error` (an Error): a transport error, a failed `getToken`, a message that is not JSON,
 *   or a ChannelError for a refused `publish` (its `id` and `channel` say which).
 * - `subscribed` (the server's message): the server subscribed this connection to a channel
 *   by itself (the token's channels, the backend API); its publications go to
 *   `onPublication`.
 * - `unsubscribed` (the server's message, with `reason`): the server ended such a
 *   subscription.
 *
 * Channel messages (`subscribed`, `unsubscribed`, `publication`, `published` and errors
 * of channel requests) are handled by the client and its subscriptions and are not
 * `message` events.
 *
 * Delivery is at most once: a message the socket accepted is lost if the connection
 * dies before the server reads it. A listener that throws does not disturb the client:
 * its exception is rethrown from a microtask, where the platform reports it.
 */
export class WsgateClient {
  #options;
  #WebSocket;
  #timers;
  #listeners = new Listeners();
  #state = 'closed';
  #running = false;
  #socket = null;
  #generation = 0;
  #attempt = 0;
  #queue = [];
  #token = undefined;
  #needToken = false;
  #welcome = null;
  #heartbeatWindow = 0;
  #handles = { connect: null, stable: null, watchdog: null, retry: null };
  #onlineTarget = null;
  #onOnline = () => this.#reconnectNow();
  #channels;

  /**
   * @param {ClientOptions} options
   */
  constructor(options) {
    if (!options || typeof options.url !== 'string') {
      throw new TypeError('WsgateClient: options.url must be a string');
    }
    const implementation = options.WebSocket ?? globalThis.WebSocket;
    if (typeof implementation !== 'function') {
      throw new TypeError('WsgateClient: no WebSocket implementation; pass options.WebSocket (e.g. the "ws" package)');
    }
    if (options.tokenIn !== undefined && options.tokenIn !== 'protocol' && options.tokenIn !== 'query') {
      throw new TypeError('WsgateClient: options.tokenIn must be "protocol" or "query"');
    }
    this.#WebSocket = implementation;
    this.#timers = options.timers ?? defaultTimers;
    this.#options = {
      tokenIn: 'protocol',
      baseDelay: 500,
      maxDelay: 30000,
      goingAwayDelay: 2000,
      stableAfter: 5000,
      connectTimeout: 10000,
      pingInterval: 30000,
      pingTimeout: 10000,
      hello: true,
      queueSize: 100,
      random: Math.random,
      ...Object.fromEntries(Object.entries(options).filter(([, value]) => value !== undefined)),
    };
    const browserLike = typeof globalThis.addEventListener === 'function' ? globalThis : null;
    this.#onlineTarget = options.onlineTarget === undefined ? browserLike : options.onlineTarget;
    this.#channels = new ChannelRouter({
      isOpen: () => this.#isOpen(),
      write: (text) => this.#socket.send(text),
      emit: (type, detail) => this.#emit(type, detail),
      backoff: (attempt) => backoffDelay(attempt, this.#options.baseDelay, this.#options.maxDelay, this.#options.random),
      timers: this.#timers,
      getToken: this.#options.getSubscriptionToken,
      onPublication: this.#options.onPublication,
    });
  }

  /**
   * `"connecting"` (a connection attempt is in progress), `"open"`, `"reconnecting"`
   * (waiting for the delay before the next attempt) or `"closed"` (not started, stopped
   * by `close()`, or stopped by a terminal close code).
   * @type {"connecting" | "open" | "reconnecting" | "closed"}
   */
  get state() {
    return this.#state;
  }

  /**
   * The server's last welcome, or null before the first one.
   * @type {Welcome | null}
   */
  get welcome() {
    return this.#welcome;
  }

  /**
   * Messages waiting in the offline queue.
   * @type {number}
   */
  get queued() {
    return this.#queue.length;
  }

  /**
   * Adds a listener for event `type` (see the class description).
   * @param {string} type
   * @param {(detail: any) => void} listener
   * @returns {() => void} a function that removes the listener
   */
  on(type, listener) {
    return this.#listeners.on(type, listener);
  }

  /**
   * Removes a listener added with `on`.
   * @param {string} type
   * @param {(detail: any) => void} listener
   */
  off(type, listener) {
    this.#listeners.off(type, listener);
  }

  /**
   * Starts connecting (and reconnecting until `close()` or a terminal close code).
   * Does nothing while already running. The attempt counter starts at zero.
   */
  connect() {
    if (this.#running) {
      return;
    }
    this.#running = true;
    this.#attempt = 0;
    this.#needToken = typeof this.#options.getToken === 'function';
    this.#onlineTarget?.addEventListener('online', this.#onOnline);
    void this.#open();
  }

  /**
   * Sends a message: objects are encoded as JSON, strings are sent as they are. While
   * not open the message waits in the offline queue and goes out, in order, when a
   * connection opens.
   * @param {object | string} message
   * @returns {boolean} false when the queue is full and the message was dropped (an
   *   `overflow` event is emitted too)
   */
  send(message) {
    const text = typeof message === 'string' ? message : JSON.stringify(message);
    if (this.#enqueue({ text, written: null, dropped: null })) {
      return true;
    }
    this.#emit('overflow', { message });
    return false;
  }

  /**
   * Subscribes to channel, now or as soon as a connection is open, and again after
   * every reconnect, until `unsubscribe()`. A refusal such as `permission_denied` ends
   * this subscription only (state `"failed"`, an `error` event on it); `rate_limited`
   * and `too_many_subscribers` are retried with backoff. In a channel with history
   * every resubscribe asks to recover what was missed, and the subscription's
   * `recovery` event says whether it was; the handler sees each publication once, in
   * order.
   * @param {string} channel the channel name
   * @param {(publication: Publication) => void} [handler] receives each publication; its
   *   `data` is the published JSON value
   * @param {{ getToken?: (channel: string) => string | Promise<string>, since?: import('./channels.js').Position }} [options]
   *   `getToken` returns a subscription token; it is called before every subscribe (so
   *   a fresh token after every reconnect); default the client's `getSubscriptionToken`,
   *   if any. `since` is a position the application already has (from the backend's
   *   history or publish answers, or a subscription's `position` kept across a page
   *   load): the first subscribe recovers from it too, with a `recovery` event
   * @returns {import('./channels.js').Subscription}
   * @throws {Error} when this client is already subscribed to channel
   * @throws {TypeError} when `since` is not `{ offset, epoch }`
   */
  subscribe(channel, handler, options) {
    return this.#channels.subscribe(channel, handler, options);
  }

  /**
   * Ends this client's subscription to channel (as `subscription.unsubscribe()` does),
   * or the subscription the server made for this connection by itself.
   * @param {string} channel
   */
  unsubscribe(channel) {
    this.#channels.unsubscribe(channel);
  }

  /**
   * Publishes data to channel: `{"type":"publish","channel":...,"data":...,"id":N}`.
   * Like `send`, it goes out at once when a connection is open and otherwise waits in
   * the offline queue. The promise resolves when the publication has been written to
   * the socket, without waiting for the server: the server answers the publish (it
   * carries an id) with `published`, which the client drops, or with a refusal (e.g.
   * `publish_not_allowed`), which arrives after that as an `error` event carrying a
   * ChannelError with the same `id` (`publish` has no way to know that id in advance:
   * ids count up from 1 per client). The promise rejects when the offline queue is
   * full, when data cannot be encoded as JSON, and when `close()` is called before the
   * publication was written.
   * @param {string} channel
   * @param {unknown} data any JSON value
   * @returns {Promise<void>}
   */
  publish(channel, data) {
    return new Promise((resolve, reject) => {
      if (typeof channel !== 'string' || channel === '') {
        throw new TypeError('WsgateClient.publish: channel must be a non-empty string');
      }
      if (data === undefined) {
        throw new TypeError('WsgateClient.publish: data must be a JSON value');
      }
      const text = JSON.stringify({ type: 'publish', channel, data, id: this.#channels.nextId() });
      if (!this.#enqueue({ text, written: resolve, dropped: reject })) {
        reject(new Error('WsgateClient.publish: the offline queue is full'));
      }
    });
  }

  // #enqueue writes entry at once when open, else queues it; false when the queue is full.
  #enqueue(entry) {
    if (this.#isOpen()) {
      this.#socket.send(entry.text);
      entry.written?.();
      return true;
    }
    if (this.#queue.length >= this.#options.queueSize) {
      return false;
    }
    this.#queue.push(entry);
    return true;
  }

  #isOpen() {
    return this.#state === 'open' && this.#socket?.readyState === OPEN;
  }

  /**
   * Stops for good: closes the socket (with `code` and `reason`), cancels every timer
   * and pending reconnect, and removes the `online` listener. Queued messages are kept
   * for a later `connect()`, and so are subscriptions; queued publications are dropped
   * and their promises rejected.
   * @param {number} [code=1000] 1000 or 3000-4999
   * @param {string} [reason="client closed"]
   */
  close(code = CloseCode.NORMAL, reason = 'client closed') {
    if (!this.#running) {
      return;
    }
    this.#stop();
    this.#channels.closed();
    this.#queue = this.#queue.filter((entry) => {
      entry.dropped?.(new Error('WsgateClient.publish: the client was closed before the publication was written'));
      return entry.dropped === null;
    });
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      try {
        socket.close(code, reason);
      } catch (error) {
        this.#emit('error', error);
      }
    }
    this.#emit('close', { code, reason, willReconnect: false });
  }

  #stop() {
    this.#running = false;
    this.#generation++;
    this.#clearConnectionTimers();
    this.#clear('retry');
    this.#onlineTarget?.removeEventListener('online', this.#onOnline);
    this.#state = 'closed';
  }

  async #open() {
    const generation = ++this.#generation;
    this.#state = 'connecting';
    if (this.#needToken) {
      try {
        this.#token = await this.#options.getToken();
        this.#needToken = false;
      } catch (error) {
        if (generation === this.#generation) {
          this.#emit('error', error);
          this.#retry('backoff');
        }
        return;
      }
      if (generation !== this.#generation) {
        return;
      }
    }
    let socket;
    try {
      socket = new this.#WebSocket(this.#connectionUrl(), this.#connectionProtocols());
    } catch (error) {
      this.#emit('error', error);
      this.#retry('backoff');
      return;
    }
    this.#socket = socket;
    socket.onopen = () => socket === this.#socket && this.#handleOpen(socket);
    socket.onmessage = (event) => socket === this.#socket && this.#handleMessage(socket, event.data);
    socket.onerror = () => socket === this.#socket && this.#emit('error', new Error('WebSocket error'));
    socket.onclose = (event) => socket === this.#socket && this.#handleClose(event.code, event.reason);
    this.#schedule('connect', this.#options.connectTimeout, () => this.#drop(socket, CloseCode.ABNORMAL, 'connect timeout'));
  }

  #connectionUrl() {
    const { url, buildUrl, tokenIn } = this.#options;
    if (typeof buildUrl === 'function') {
      return buildUrl(url, this.#token);
    }
    if (this.#token === undefined || tokenIn !== 'query') {
      return url;
    }
    const withToken = new URL(url);
    withToken.searchParams.set('token', this.#token);
    return withToken.toString();
  }

  // #connectionProtocols returns the subprotocols to offer: the configured ones and,
  // with a token in the subprotocol, `wsgate.v1` (a client that offered subprotocols
  // fails the connection when the server selects none) and `bearer.<token>`, which the
  // server reads and never echoes. It throws for a token a subprotocol cannot carry.
  #connectionProtocols() {
    const { protocols, tokenIn } = this.#options;
    if (this.#token === undefined || tokenIn !== 'protocol') {
      return protocols;
    }
    const credential = TOKEN_PREFIX + this.#token;
    if (!HTTP_TOKEN.test(credential)) {
      throw new TypeError('WsgateClient: the token holds characters a WebSocket subprotocol cannot carry; use tokenIn: "query"');
    }
    const offered = protocols === undefined ? [] : [].concat(protocols);
    if (!offered.includes(SUBPROTOCOL)) {
      offered.push(SUBPROTOCOL);
    }
    offered.push(credential);
    return offered;
  }

  #handleOpen(socket) {
    this.#clear('connect');
    this.#heartbeatWindow = this.#options.pingInterval + this.#options.pingTimeout;
    this.#state = 'open';
    if (this.#options.hello) {
      socket.send(HELLO);
    }
    this.#channels.opened();
    const queued = this.#queue;
    this.#queue = [];
    for (const entry of queued) {
      socket.send(entry.text);
      entry.written?.();
    }
    this.#armWatchdog(socket);
    this.#schedule('stable', this.#options.stableAfter, () => {
      this.#attempt = 0;
    });
    this.#emit('open');
  }

  #handleMessage(socket, data) {
    this.#armWatchdog(socket);
    if (typeof data !== 'string') {
      this.#emit('error', new Error('wsgate sent a binary message; the protocol is JSON text'));
      return;
    }
    let message;
    try {
      message = JSON.parse(data);
    } catch (error) {
      this.#emit('error', error);
      return;
    }
    if (message?.type === 'ping') {
      socket.send(PONG);
      return;
    }
    if (message?.type === 'welcome') {
      this.#welcome = message;
      this.#heartbeatWindow = message.ping_interval_ms > 0 ? message.ping_interval_ms + message.ping_timeout_ms : 0;
      this.#armWatchdog(socket);
      this.#emit('welcome', message);
      return;
    }
    if (this.#channels.handle(message)) {
      return;
    }
    this.#emit('message', message);
  }

  #armWatchdog(socket) {
    this.#clear('watchdog');
    if (this.#heartbeatWindow > 0) {
      this.#schedule('watchdog', this.#heartbeatWindow, () => this.#drop(socket, CloseCode.HEARTBEAT_TIMEOUT, 'heartbeat timeout'));
    }
  }

  // #drop abandons a socket that is silent or never opened: its events are ignored
  // from now on, and the connection is handled as closed with code.
  #drop(socket, code, reason) {
    if (socket !== this.#socket) {
      return;
    }
    this.#socket = null;
    try {
      if (typeof socket.terminate === 'function') {
        socket.terminate();
      } else {
        socket.close(CloseCode.HEARTBEAT_TIMEOUT, reason);
      }
    } catch (error) {
      this.#emit('error', error);
    }
    this.#handleClose(code, reason);
  }

  #handleClose(code, reason) {
    this.#socket = null;
    this.#clearConnectionTimers();
    this.#channels.closed();
    const policy = closePolicy(code);
    const willReconnect = policy !== 'stop';
    if (!willReconnect) {
      this.#stop();
    }
    this.#emit('close', { code, reason, willReconnect });
    if (willReconnect) {
      this.#retry(policy);
    }
  }

  #retry(policy) {
    if (!this.#running) {
      return;
    }
    if (policy === 'refresh') {
      this.#needToken = typeof this.#options.getToken === 'function';
    }
    this.#attempt++;
    const { baseDelay, maxDelay, goingAwayDelay, random } = this.#options;
    const delay = policy === 'going-away' ? random() * goingAwayDelay : backoffDelay(this.#attempt, baseDelay, maxDelay, random);
    this.#state = 'reconnecting';
    this.#schedule('retry', delay, () => void this.#open());
    this.#emit('reconnecting', { attempt: this.#attempt, delay });
  }

  #reconnectNow() {
    if (this.#running && this.#handles.retry !== null) {
      this.#clear('retry');
      void this.#open();
    }
  }

  #clearConnectionTimers() {
    this.#clear('connect');
    this.#clear('stable');
    this.#clear('watchdog');
  }

  // #schedule runs callback after delay milliseconds on the timer called name,
  // replacing the one pending there.
  #schedule(name, delay, callback) {
    this.#clear(name);
    this.#handles[name] = this.#timers.setTimeout(() => {
      this.#handles[name] = null;
      callback();
    }, delay);
  }

  #clear(name) {
    if (this.#handles[name] !== null) {
      this.#timers.clearTimeout(this.#handles[name]);
      this.#handles[name] = null;
    }
  }

  #emit(type, detail) {
    this.#listeners.emit(type, detail);
  }
}
