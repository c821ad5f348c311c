/**
 * Channels for the wsgate client: subscriptions that survive reconnects and recover
 * what they missed in channels with history, the routing of publications, and the
 * matching of the server's answers to requests by id (docs/protocol.md, "Channels").
 * WsgateClient uses it; applications use the Subscription and ChannelError it exports.
 *
 * @module @wsgate/client/channels
 */

import { Listeners } from './listeners.js';

/**
 * Error codes a channel request can get (docs/protocol.md, "Channels").
 * @readonly
 * @enum {string}
 */
export const ChannelErrorCode = Object.freeze({
  INVALID_CHANNEL: 'invalid_channel',
  PERMISSION_DENIED: 'permission_denied',
  ALREADY_SUBSCRIBED: 'already_subscribed',
  NOT_SUBSCRIBED: 'not_subscribed',
  TOO_MANY_SUBSCRIPTIONS: 'too_many_subscriptions',
  TOO_MANY_SUBSCRIBERS: 'too_many_subscribers',
  PUBLISH_NOT_ALLOWED: 'publish_not_allowed',
  RATE_LIMITED: 'rate_limited',
  PRESENCE_NOT_ENABLED: 'presence_not_enabled',
  INVALID_CURSOR: 'invalid_cursor',
  PRESENCE_UNAVAILABLE: 'presence_unavailable',
});

// TEMPORARY are the codes after which the same subscribe may succeed later: the
// subscription tries again with backoff. Every other refusal ends the subscription.
const TEMPORARY = new Set([ChannelErrorCode.RATE_LIMITED, ChannelErrorCode.TOO_MANY_SUBSCRIBERS]);

// isOffset reports whether value is a stream offset: a non-negative integer.
const isOffset = (value) => Number.isSafeInteger(value) && value >= 0;

// isEpoch reports whether value is a stream epoch: a non-empty string.
const isEpoch = (value) => typeof value === 'string' && value !== '';

/**
 * A channel request the server refused: its `{"type":"error"}` answer.
 */
export class ChannelError extends Error {
  /**
   * @param {{ code?: unknown, message?: unknown, channel?: unknown, id?: unknown }} answer the server's error message
   */
  constructor(answer) {
    super(typeof answer.message === 'string' ? answer.message : String(answer.code));
    this.name = 'ChannelError';
    /** The error code, e.g. `"permission_denied"` (see ChannelErrorCode). @type {string} */
    this.code = String(answer.code);
    /** The channel of the refused request. @type {string | undefined} */
    this.channel = typeof answer.channel === 'string' ? answer.channel : undefined;
    /** The id of the refused request, as the client sent it. @type {string | number | undefined} */
    this.id = typeof answer.id === 'string' || typeof answer.id === 'number' ? answer.id : undefined;
    /** Whether the same request may succeed later (a subscription then retries by itself). @type {boolean} */
    this.temporary = TEMPORARY.has(this.code);
  }
}

/**
 * A place in a channel's stream: the offset of a publication (0 before the first) and
 * the epoch of the stream, a string that changes when the server lost the stream and
 * started it over.
 * @typedef {object} Position
 * @property {number} offset
 * @property {string} epoch
 */

/**
 * Detail of a subscription's `recovery` event.
 * @typedef {object} RecoveryDetail
 * @property {string} channel
 * @property {boolean} recovered true: every publication missed while disconnected
 *   follows, in order, before the live ones; false: they are lost (history too short,
 *   the stream restarted, the server could not read it) and the application should
 *   reload its state from its backend
 * @property {Position | null} position where the subscription now is: on false the
 *   server's current position, from which publications go on
 */

/**
 * One page of a channel's presence.
 * @typedef {object} PresencePage
 * @property {string} channel
 * @property {Record<string, number>} users each user listed and its connections subscribed
 * @property {number} total_users
 * @property {number} total_connections
 * @property {string} cursor the next page's cursor; "" on the last page
 */

/**
 * A channel's presence counts.
 * @typedef {object} PresenceStats
 * @property {string} channel
 * @property {number} users
 * @property {number} connections
 */

/**
 * One channel a client wants to be subscribed to: created by `client.subscribe`. It is
 * subscribed again after every reconnect until `unsubscribe()`, a permanent refusal, or
 * the server's removal. In a channel with history (its namespace sets `history_size`)
 * it keeps its position (the offset of the last publication it delivered, and the
 * stream's epoch) and asks the server on every resubscribe for what it missed. Events
 * (`on(type, listener)`):
 * - `subscribed` (the server's `subscribed` message, with every field it carries): the
 *   server confirmed the subscription; again after each reconnect.
 * - `recovery` ({@link RecoveryDetail}): after each resubscribe of a subscription that
 *   has a position, right after `subscribed`: whether what was missed follows
 *   (`recovered: true`) or is lost (`false`: reload the state). None after the first
 *   subscribe, unless it was made with `since`; none in channels without history.
 * - `error` (a ChannelError, or the error of the subscription's `getToken`): a request
 *   failed; `state` says whether it will be retried (`"subscribing"`) or not (`"failed"`).
 * - `unsubscribed` ({ channel, reason }): the subscription ended: `reason` is the
 *   server's when the server or the backend removed it, undefined after `unsubscribe()`.
 * - `join` and `leave` (the server's message, `{ type, channel, user }`): in a namespace
 *   with `join_leave`, a user's first connection subscribed to the channel, or its last
 *   one left.
 * - `presence_diff` (the server's message: `{ type, channel, joins, leaves }`, or
 *   `{ type, channel, join_count, leave_count }` when too many users changed): the
 *   joins and leaves of one period while the server coalesces them under churn.
 *
 * In a namespace with `presence`, `presence()` and `presenceStats()` ask the server who
 * is in the channel.
 */
export class Subscription {
  #channel;
  #state = 'subscribing';
  #listeners = new Listeners();
  #leave;
  #position;
  #query;

  /**
   * Not called by applications: see `client.subscribe`.
   * @param {string} channel
   * @param {(subscription: Subscription) => void} leave ends the subscription in the router
   * @param {(controls: { setState: (state: string) => void, emit: (type: string, detail: unknown) => void }) => void} bind
   *   receives what the router uses to drive the subscription
   * @param {() => Position | null} position reads the subscription's position in the router
   * @param {(request: object) => Promise<any>} query sends a query and resolves with its answer
   */
  constructor(channel, leave, bind, position, query) {
    this.#channel = channel;
    this.#leave = leave;
    this.#position = position;
    this.#query = query;
    bind({
      setState: (state) => {
        this.#state = state;
      },
      emit: (type, detail) => this.#listeners.emit(type, detail),
    });
  }

  /** The channel name. @type {string} */
  get channel() {
    return this.#channel;
  }

  /**
   * `"subscribing"` (waiting for the server's confirmation, or for a connection),
   * `"subscribed"`, `"unsubscribed"` (ended by `unsubscribe()` or by the server) or
   * `"failed"` (refused for good, e.g. `permission_denied`). The last two are final.
   * @type {"subscribing" | "subscribed" | "unsubscribed" | "failed"}
   */
  get state() {
    return this.#state;
  }

  /**
   * The position the subscription recovers from on its next resubscribe: the offset of
   * the last publication it delivered (or of the stream's top when it subscribed) and
   * the stream's epoch; null in a channel without history, and before the first
   * `subscribed` unless it was made with `since`. A copy: keep it, e.g. to subscribe
   * with `since` after a page reload.
   * @type {Position | null}
   */
  get position() {
    return this.#position();
  }

  /**
   * Asks the server for one page of the channel's presence (a namespace with
   * `presence`; the subscription must be subscribed). Resolves with the server's
   * answer: `{ type, channel, users, total_users, total_connections, cursor }`, `users`
   * mapping each user to its connections; a non-empty `cursor` is passed back for the
   * next page. Rejects with a ChannelError (`not_subscribed`, `presence_not_enabled`,
   * `invalid_cursor`, `presence_unavailable`), or an Error when no connection is open
   * or it closes before the answer.
   * @param {{ limit?: number, cursor?: string }} [options] `limit` 1 to 1000 (default 100)
   * @returns {Promise<PresencePage>}
   */
  presence(options = {}) {
    const request = { type: 'presence', channel: this.#channel };
    if (options.limit !== undefined) {
      request.limit = options.limit;
    }
    if (options.cursor) {
      request.cursor = options.cursor;
    }
    return this.#query(request);
  }

  /**
   * Asks the server for the channel's presence counts; resolves with
   * `{ type, channel, users, connections }`, rejects as `presence()` does.
   * @returns {Promise<PresenceStats>}
   */
  presenceStats() {
    return this.#query({ type: 'presence_stats', channel: this.#channel });
  }

  /**
   * Adds a listener for event `type` (see the class description).
   * @param {"subscribed" | "recovery" | "error" | "unsubscribed" | "join" | "leave" | "presence_diff"} type
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
   * Ends the subscription: no publication reaches its handler any more, the server is
   * told when it holds the subscription, and it is not renewed after reconnects. An
   * `unsubscribed` event without reason follows at once. Does nothing when it has ended.
   */
  unsubscribe() {
    this.#leave(this);
  }
}

/**
 * @typedef {object} RouterHooks
 * @property {() => boolean} isOpen whether a connection is open
 * @property {(text: string) => void} write sends a frame on the open connection
 * @property {(type: string, detail: unknown) => void} emit emits a client event
 * @property {(attempt: number) => number} backoff the delay before retry `attempt`, milliseconds
 * @property {import('./index.js').Timers} timers the client's clock
 * @property {((channel: string) => string | Promise<string>) | undefined} getToken the default
 *   subscription token source
 * @property {((publication: object) => void) | undefined} onPublication the catch-all handler
 */

/**
 * ChannelRouter keeps a client's subscriptions and routes the channel messages of its
 * connections. Internal to the client: WsgateClient tells it when a connection opens
 * and closes and gives it every server message.
 */
export class ChannelRouter {
  #hooks;
  // #records maps a channel to the record of its active Subscription.
  #records = new Map();
  // #pending maps the id of a subscribe or unsubscribe sent on this connection to
  // { kind, record, channel } until its answer arrives.
  #pending = new Map();
  // #leaving maps a channel to the id of its unsubscribe in flight: publications for it
  // before the answer belong to the ended subscription and are dropped.
  #leaving = new Map();
  // #serverChannels holds the channels the server subscribed this connection to itself.
  #serverChannels = new Set();
  // #queries maps the id of a presence query sent on this connection to its
  // { resolve, reject } until its answer arrives.
  #queries = new Map();
  #nextId = 0;
  // #connection counts connections, so a token that arrives after its connection
  // closed is not used on the next one.
  #connection = 0;

  /** @param {RouterHooks} hooks */
  constructor(hooks) {
    this.#hooks = hooks;
  }

  /**
   * Returns a fresh request id: a counter, unique within the client.
   * @returns {number}
   */
  nextId() {
    this.#nextId += 1;
    return this.#nextId;
  }

  /**
   * Creates a subscription to channel (see WsgateClient.subscribe).
   * @param {string} channel
   * @param {((publication: object) => void) | undefined} handler
   * @param {{ getToken?: (channel: string) => string | Promise<string>, since?: Position }} options
   * @returns {Subscription}
   */
  subscribe(channel, handler, options) {
    if (typeof channel !== 'string' || channel === '') {
      throw new TypeError('WsgateClient.subscribe: channel must be a non-empty string');
    }
    if (handler !== undefined && typeof handler !== 'function') {
      throw new TypeError('WsgateClient.subscribe: handler must be a function');
    }
    const since = options?.since;
    if (since !== undefined && !(isOffset(since?.offset) && isEpoch(since?.epoch))) {
      throw new TypeError('WsgateClient.subscribe: since must be { offset, epoch }: a non-negative integer and a non-empty string');
    }
    if (this.#records.has(channel)) {
      throw new Error(`WsgateClient.subscribe: already subscribed to ${channel}; unsubscribe first`);
    }
    // sent: a subscribe went out on this connection and was not refused, so the server
    // may hold the subscription; busy: a token is being fetched or an answer is due.
    // offset and epoch are the subscription's position (see Subscription.position):
    // epoch is undefined while it has none; offset is the last offset delivered.
    const record = {
      channel, handler, getToken: options?.getToken, controls: null, sent: false, busy: false, attempt: 0, retry: null,
      offset: since?.offset, epoch: since?.epoch,
    };
    const position = () => (record.epoch === undefined ? null : { offset: record.offset, epoch: record.epoch });
    record.subscription = new Subscription(channel, (subscription) => this.#leave(subscription), (controls) => {
      record.controls = controls;
    }, position, (request) => this.#query(request));
    this.#records.set(channel, record);
    this.#serverChannels.delete(channel);
    this.#request(record);
    return record.subscription;
  }

  /**
   * Ends this client's subscription to channel, or the subscription the server made
   * for this connection.
   * @param {string} channel
   */
  unsubscribe(channel) {
    const record = this.#records.get(channel);
    if (record) {
      this.#leave(record.subscription);
      return;
    }
    if (this.#serverChannels.delete(channel)) {
      this.#sendUnsubscribe(channel);
    }
  }

  /** Subscribes every active subscription on the connection that has just opened. */
  opened() {
    for (const record of this.#records.values()) {
      this.#request(record);
    }
  }

  /**
   * Forgets what belonged to the connection that closed: answers still due, the
   * server's own subscriptions, retries. Subscriptions wait for the next connection.
   */
  closed() {
    this.#connection += 1;
    for (const { reject } of this.#queries.values()) {
      reject(new Error('wsgate: the connection closed before the answer'));
    }
    this.#queries.clear();
    this.#pending.clear();
    this.#leaving.clear();
    this.#serverChannels.clear();
    for (const record of this.#records.values()) {
      this.#cancelRetry(record);
      record.sent = false;
      record.busy = false;
      record.controls.setState('subscribing');
    }
  }

  /**
   * Handles a server message if it belongs to channels.
   * @param {any} message a decoded server message
   * @returns {boolean} whether it was handled (otherwise it is an ordinary message)
   */
  handle(message) {
    const answers = this.#pending.has(message?.id) || this.#queries.has(message?.id);
    if (typeof message?.channel !== 'string' && !(message?.type === 'error' && answers)) {
      return false;
    }
    const query = this.#queries.get(message.id);
    if (query !== undefined && ['presence', 'presence_stats', 'error'].includes(message.type)) {
      this.#queries.delete(message.id);
      if (message.type === 'error') {
        query.reject(new ChannelError(message));
      } else {
        query.resolve(message);
      }
      return true;
    }
    switch (message.type) {
      case 'join':
      case 'leave':
      case 'presence_diff': {
        const record = this.#records.get(message.channel);
        if (record === undefined) {
          return false;
        }
        record.controls.emit(message.type, message);
        return true;
      }
      case 'subscribed':
        this.#onSubscribed(message);
        return true;
      case 'unsubscribed':
        this.#onUnsubscribed(message);
        return true;
      case 'publication':
        this.#onPublication(message);
        return true;
      case 'published':
        return true;
      case 'error':
        this.#onError(message);
        return true;
      default:
        return false;
    }
  }

  #onSubscribed(message) {
    const request = this.#answered(message.id);
    const record = this.#records.get(message.channel);
    if (record && (request === undefined || request.record === record)) {
      if (request !== undefined) {
        record.busy = false;
      }
      record.sent = true;
      this.#confirm(record, message);
      return;
    }
    if (request !== undefined) {
      // The answer to a subscribe whose subscription has ended since: its unsubscribe
      // is on the way.
      return;
    }
    this.#serverChannels.add(message.channel);
    this.#hooks.emit('subscribed', message);
  }

  #onUnsubscribed(message) {
    const request = this.#answered(message.id);
    if (request !== undefined) {
      this.#doneLeaving(message.channel, message.id);
      return;
    }
    if (this.#leaving.has(message.channel)) {
      return;
    }
    const record = this.#records.get(message.channel);
    if (record) {
      this.#end(record, 'unsubscribed', { channel: message.channel, reason: message.reason });
      return;
    }
    if (this.#serverChannels.delete(message.channel)) {
      this.#hooks.emit('unsubscribed', message);
    }
  }

  #onPublication(message) {
    if (this.#leaving.has(message.channel)) {
      return;
    }
    const record = this.#records.get(message.channel);
    if (record && isOffset(message.offset) && !this.#advance(record, message.offset)) {
      return;
    }
    const handler = record ? record.handler : this.#hooks.onPublication;
    if (handler === undefined) {
      return;
    }
    try {
      handler(message);
    } catch (error) {
      queueMicrotask(() => {
        throw error;
      });
    }
  }

  #onError(message) {
    const request = this.#answered(message.id);
    if (request === undefined) {
      // A refused publish, or a request this client did not make through channels.
      this.#hooks.emit('error', new ChannelError(message));
      return;
    }
    if (request.kind === 'unsubscribe') {
      this.#doneLeaving(request.channel, message.id);
      return;
    }
    const { record } = request;
    if (this.#records.get(record.channel) !== record) {
      return;
    }
    record.busy = false;
    if (message.code === ChannelErrorCode.ALREADY_SUBSCRIBED) {
      record.sent = true;
      this.#confirm(record, null);
      return;
    }
    record.sent = false;
    const error = new ChannelError(message);
    if (error.temporary) {
      record.controls.emit('error', error);
      this.#scheduleRetry(record);
      return;
    }
    this.#end(record, 'failed', null);
    record.controls.emit('error', error);
  }

  // #advance moves record's position to the offset of a publication and reports
  // whether to deliver it. An offset not above the last delivered one is a duplicate
  // (the server promises none; this is a safety net at the seam of a recovery) and is
  // dropped, except offset 1: the first publication of a stream that a store started
  // again from 1 while the subscription was live (a cluster's Redis flushed; a stream
  // that starts again in a new epoch otherwise continues above its old offsets, which
  // the client sees as a gap). Either way the position keeps the old epoch, so the
  // next recovery is answered recovered:false, as it must: the client cannot name the
  // new epoch.
  #advance(record, offset) {
    if (record.offset !== undefined && offset <= record.offset && offset !== 1) {
      return false;
    }
    record.offset = offset;
    return true;
  }

  // #answered removes and returns the request that id answers, if it is one of ours.
  #answered(id) {
    const request = this.#pending.get(id);
    if (request !== undefined) {
      this.#pending.delete(id);
    }
    return request;
  }

  // #confirm marks record subscribed on this connection, with the server's subscribed
  // message, or null for already_subscribed (the server had subscribed the connection
  // by itself and said so before). The first confirmation on a connection settles the
  // position: a subscription that had one asked to recover, and learns here whether it
  // did.
  #confirm(record, message) {
    record.attempt = 0;
    if (record.subscription.state === 'subscribed') {
      return;
    }
    const recovering = record.epoch !== undefined;
    const recovered = recovering && message?.recovered === true && message.epoch === record.epoch && isOffset(message.offset);
    if (message !== null && !recovered) {
      const hasHistory = isOffset(message.offset) && isEpoch(message.epoch);
      record.offset = hasHistory ? message.offset : undefined;
      record.epoch = hasHistory ? message.epoch : undefined;
    }
    record.controls.setState('subscribed');
    record.controls.emit('subscribed', message ?? { type: 'subscribed', channel: record.channel });
    if (recovering) {
      const position = record.epoch === undefined ? null : { offset: record.offset, epoch: record.epoch };
      record.controls.emit('recovery', { channel: record.channel, recovered, position });
    }
  }

  // #request subscribes record on the open connection unless a subscribe is on its
  // way or done: with a fresh token first when it has a token source.
  #request(record) {
    if (!this.#hooks.isOpen() || record.busy || record.sent || record.retry !== null) {
      return;
    }
    const getToken = record.getToken ?? this.#hooks.getToken;
    if (getToken === undefined) {
      this.#sendSubscribe(record, undefined);
      return;
    }
    record.busy = true;
    const connection = this.#connection;
    const current = () => connection === this.#connection && this.#records.get(record.channel) === record;
    Promise.resolve()
      .then(() => getToken(record.channel))
      .then(
        (token) => {
          if (current()) {
            record.busy = false;
            // The server may have subscribed the connection meanwhile by itself.
            if (!record.sent) {
              this.#sendSubscribe(record, token);
            }
          }
        },
        (error) => {
          if (current()) {
            record.busy = false;
            record.controls.emit('error', error);
            this.#scheduleRetry(record);
          }
        },
      );
  }

  #sendSubscribe(record, token) {
    const id = this.nextId();
    this.#pending.set(id, { kind: 'subscribe', record });
    record.busy = true;
    record.sent = true;
    const message = { type: 'subscribe', channel: record.channel, id };
    if (token !== undefined) {
      message.token = token;
    }
    if (record.epoch !== undefined) {
      Object.assign(message, { recover: true, offset: record.offset, epoch: record.epoch });
    }
    this.#hooks.write(JSON.stringify(message));
  }

  // #query sends request with a fresh id on the open connection and resolves with
  // the answer that carries the id.
  #query(request) {
    if (!this.#hooks.isOpen()) {
      return Promise.reject(new Error('wsgate: no open connection'));
    }
    const id = this.nextId();
    return new Promise((resolve, reject) => {
      this.#queries.set(id, { resolve, reject });
      this.#hooks.write(JSON.stringify({ ...request, id }));
    });
  }

  #sendUnsubscribe(channel) {
    if (!this.#hooks.isOpen()) {
      return;
    }
    const id = this.nextId();
    this.#pending.set(id, { kind: 'unsubscribe', channel });
    this.#leaving.set(channel, id);
    this.#hooks.write(JSON.stringify({ type: 'unsubscribe', channel, id }));
  }

  #doneLeaving(channel, id) {
    if (this.#leaving.get(channel) === id) {
      this.#leaving.delete(channel);
    }
  }

  #leave(subscription) {
    const record = this.#records.get(subscription.channel);
    if (record?.subscription !== subscription) {
      return;
    }
    const held = record.sent;
    this.#end(record, 'unsubscribed', { channel: record.channel, reason: undefined });
    if (held) {
      this.#sendUnsubscribe(record.channel);
    }
  }

  // #end removes record for good with final state; with detail, it emits `unsubscribed`.
  #end(record, state, detail) {
    this.#records.delete(record.channel);
    this.#cancelRetry(record);
    record.controls.setState(state);
    if (detail !== null) {
      record.controls.emit('unsubscribed', detail);
    }
  }

  #scheduleRetry(record) {
    record.attempt += 1;
    record.retry = this.#hooks.timers.setTimeout(() => {
      record.retry = null;
      this.#request(record);
    }, this.#hooks.backoff(record.attempt));
  }

  #cancelRetry(record) {
    if (record.retry !== null) {
      this.#hooks.timers.clearTimeout(record.retry);
      record.retry = null;
    }
  }
}
