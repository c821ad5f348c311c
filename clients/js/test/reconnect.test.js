// The client's state machine on a virtual clock with fake sockets: backoff growth,
// jitter, reset after a stable connection, close-code policies, heartbeat detection,
// the offline queue, `online`, and close().
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { WsgateClient } from '../src/index.js';
import { FakeTimers, fakeWebSocketClass } from './support/fakes.js';
import { record } from './support/wait.js';

const almostOne = () => 1 - Number.EPSILON;

// setup returns a client on fake timers and sockets, its event log, and helpers.
function setup(options = {}) {
  const timers = new FakeTimers();
  const FakeWebSocket = fakeWebSocketClass();
  const onlineTarget = new EventTarget();
  const client = new WsgateClient({
    url: 'ws://gateway.test/api/v1/ws',
    WebSocket: FakeWebSocket,
    timers,
    onlineTarget,
    random: almostOne,
    ...options,
  });
  const events = record(client, ['open', 'close', 'reconnecting', 'message', 'welcome', 'overflow', 'error']);
  const sockets = FakeWebSocket.instances;
  const latest = () => sockets[sockets.length - 1];
  const of = (type) => events.filter((event) => event.type === type).map((event) => event.detail);
  return { client, timers, sockets, latest, of, onlineTarget };
}

test('reconnect delays double from 500 ms up to the 30 s cap, and no attempt comes early', () => {
  const { client, timers, sockets, latest, of } = setup();
  client.connect();
  const expected = [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000];
  for (const [index, ceiling] of expected.entries()) {
    latest().serverClose(1006);
    const { attempt, delay } = of('reconnecting').at(-1);
    assert.equal(attempt, index + 1);
    assert.equal(Math.round(delay), ceiling);
    assert.equal(client.state, 'reconnecting');
    const before = sockets.length;
    timers.advance(delay - 1);
    assert.equal(sockets.length, before, `attempt ${attempt} started before its delay`);
    timers.advance(1);
    assert.equal(sockets.length, before + 1, `attempt ${attempt} did not start after its delay`);
    assert.equal(client.state, 'connecting');
  }
  client.close();
});

test('delays are the random fraction of the ceiling (full jitter)', () => {
  const fractions = [0, 0.25, 0.5, 0.75];
  const { client, timers, latest, of } = setup({ random: () => fractions.shift() });
  client.connect();
  for (let index = 0; index < 4; index++) {
    latest().serverClose(1011);
    timers.advance(of('reconnecting').at(-1).delay);
  }
  assert.deepEqual(of('reconnecting').map(({ delay }) => delay), [0, 250, 1000, 3000]);
  client.close();
});

test('the attempt counter resets only after a connection stayed open for stableAfter', () => {
  const { client, timers, latest, of } = setup({ stableAfter: 5000 });
  client.connect();
  for (let index = 0; index < 3; index++) {
    latest().open();
    latest().serverClose(1008, 'Connection limit reached');
    timers.advance(of('reconnecting').at(-1).delay);
  }
  assert.deepEqual(of('reconnecting').map(({ attempt }) => attempt), [1, 2, 3], 'accept-then-drop keeps counting');
  latest().open();
  timers.advance(4999);
  latest().serverClose(1006);
  assert.equal(of('reconnecting').at(-1).attempt, 4, 'open for less than stableAfter does not reset');
  timers.advance(of('reconnecting').at(-1).delay);
  latest().open();
  timers.advance(5000);
  latest().serverClose(1006);
  assert.equal(of('reconnecting').at(-1).attempt, 1, 'open for stableAfter resets');
  assert.equal(Math.round(of('reconnecting').at(-1).delay), 500);
  client.close();
});

test('going away (1001) reconnects after a random delay within goingAwayDelay', () => {
  const { client, timers, sockets, latest, of } = setup({ random: () => 0.5, goingAwayDelay: 2000, pingInterval: 0, pingTimeout: 0 });
  client.connect();
  latest().open();
  timers.advance(60000);
  latest().serverClose(1001, 'server shutting down');
  assert.deepEqual(of('reconnecting').at(-1), { attempt: 1, delay: 1000 });
  assert.deepEqual(of('close').at(-1), { code: 1001, reason: 'server shutting down', willReconnect: true });
  timers.advance(1000);
  assert.equal(sockets.length, 2);
  client.close();
});

test('terminal close codes stop reconnecting and say why', () => {
  for (const [code, reason] of [[1000, ''], [4401, 'unauthorized'], [4403, 'kicked'], [4450, 'custom terminal']]) {
    const { client, timers, sockets, latest, of } = setup();
    client.connect();
    latest().open();
    latest().serverClose(code, reason);
    assert.deepEqual(of('close'), [{ code, reason, willReconnect: false }], `close code ${code}`);
    assert.equal(of('reconnecting').length, 0);
    assert.equal(client.state, 'closed');
    assert.equal(timers.pending, 0, `timers left after ${code}`);
    timers.advance(10 * 60 * 1000);
    assert.equal(sockets.length, 1, `reconnected after ${code}`);
  }
});

test('token expired (4100) gets a fresh token before reconnecting; other closes reuse it', async () => {
  const tokens = ['first', 'second'];
  let calls = 0;
  const { client, timers, sockets, latest, of } = setup({
    getToken: async () => {
      calls++;
      return tokens.shift();
    },
  });
  client.connect();
  await Promise.resolve();
  assert.deepEqual(latest().protocols, ['wsgate.v1', 'bearer.first']);
  latest().open();
  latest().serverClose(4100, 'token expired');
  timers.advance(of('reconnecting').at(-1).delay);
  await Promise.resolve();
  assert.equal(sockets.length, 2);
  assert.deepEqual(latest().protocols, ['wsgate.v1', 'bearer.second']);
  latest().serverClose(1006);
  timers.advance(of('reconnecting').at(-1).delay);
  assert.equal(sockets.length, 3);
  assert.deepEqual(latest().protocols, ['wsgate.v1', 'bearer.second']);
  assert.equal(calls, 2);
  client.close();
});

test('the token goes in the subprotocol by default, never in the URL', async () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhZGEifQ.c2lnbmF0dXJl-_';
  const { client, latest } = setup({ url: 'ws://gateway.test/api/v1/ws?room=1', getToken: () => jwt });
  client.connect();
  await Promise.resolve();
  assert.equal(latest().url, 'ws://gateway.test/api/v1/ws?room=1');
  assert.deepEqual(latest().protocols, ['wsgate.v1', `bearer.${jwt}`]);
  client.close();
});

test('configured subprotocols are kept, with wsgate.v1 offered once', async () => {
  for (const [protocols, offered] of [
    ['chat', ['chat', 'wsgate.v1', 'bearer.t']],
    [['wsgate.v1', 'chat'], ['wsgate.v1', 'chat', 'bearer.t']],
  ]) {
    const { client, latest } = setup({ protocols, getToken: () => 't' });
    client.connect();
    await Promise.resolve();
    assert.deepEqual(latest().protocols, offered, `protocols ${JSON.stringify(protocols)}`);
    client.close();
  }
  const { client, latest } = setup({ protocols: ['chat'] });
  client.connect();
  assert.deepEqual(latest().protocols, ['chat'], 'without a token the protocols go as configured');
  client.close();
});

test('tokenIn "query" puts the token in the URL and not in the subprotocols', async () => {
  const { client, latest } = setup({ tokenIn: 'query', getToken: () => 'a b/c' });
  client.connect();
  await Promise.resolve();
  assert.equal(new URL(latest().url).searchParams.get('token'), 'a b/c');
  assert.equal(latest().protocols, undefined);
  client.close();
  assert.throws(() => setup({ tokenIn: 'header' }), /tokenIn must be "protocol" or "query"/);
});

test('a token a subprotocol cannot carry is reported with the way out, and retried', async () => {
  const { client, timers, sockets, of } = setup({ getToken: () => 'not a token/=' });
  client.connect();
  await Promise.resolve();
  assert.equal(sockets.length, 0);
  assert.match(of('error')[0].message, /use tokenIn: "query"/);
  assert.equal(of('reconnecting').length, 1);
  assert.equal(timers.pending, 1);
  client.close();
});

test('a failing getToken is reported and retried with backoff', async () => {
  let calls = 0;
  const { client, timers, sockets, of } = setup({
    getToken: async () => {
      calls++;
      if (calls === 1) {
        throw new Error('auth service down');
      }
      return 'token';
    },
  });
  client.connect();
  await Promise.resolve();
  assert.equal(of('error')[0].message, 'auth service down');
  assert.equal(sockets.length, 0);
  timers.advance(of('reconnecting').at(-1).delay);
  await Promise.resolve();
  assert.equal(sockets.length, 1);
  client.close();
});

test('pings are answered with pongs; pings and welcome are not messages', () => {
  const { client, latest, of } = setup();
  client.connect();
  latest().open();
  assert.deepEqual(latest().sent, ['{"type":"hello"}']);
  latest().receive({ type: 'ping' });
  latest().receive({ type: 'welcome', connection_id: 'c1', user_id: null, ping_interval_ms: 1000, ping_timeout_ms: 500 });
  latest().receive({ type: 'message', content: 'hi' });
  assert.deepEqual(latest().sent, ['{"type":"hello"}', '{"type":"pong"}']);
  assert.deepEqual(of('message'), [{ type: 'message', content: 'hi' }]);
  assert.equal(of('welcome')[0].connection_id, 'c1');
  assert.equal(client.welcome.connection_id, 'c1');
  client.close();
});

test('a silent server is dropped after ping interval + timeout from the welcome', () => {
  const { client, timers, latest, of } = setup();
  client.connect();
  latest().open();
  latest().receive({ type: 'welcome', connection_id: 'c1', user_id: null, ping_interval_ms: 1000, ping_timeout_ms: 500 });
  timers.advance(1400);
  latest().receive({ type: 'ping' });
  timers.advance(1499);
  assert.equal(client.state, 'open', 'a frame restarts the window');
  timers.advance(1);
  assert.deepEqual(of('close'), [{ code: 4000, reason: 'heartbeat timeout', willReconnect: true }]);
  assert.equal(latest().closedWith.code, 4000);
  assert.equal(client.state, 'reconnecting');
  client.close();
});

test('before a welcome the configured heartbeat applies; a welcome with 0 turns detection off', () => {
  const { client, timers, latest, of } = setup({ pingInterval: 2000, pingTimeout: 1000 });
  client.connect();
  latest().open();
  timers.advance(2999);
  assert.equal(client.state, 'open');
  timers.advance(1);
  assert.equal(of('close').at(-1).code, 4000);
  timers.advance(of('reconnecting').at(-1).delay);
  latest().open();
  latest().receive({ type: 'welcome', connection_id: 'c2', user_id: null, ping_interval_ms: 0, ping_timeout_ms: 0 });
  timers.advance(60 * 60 * 1000);
  assert.equal(client.state, 'open');
  client.close();
});

test('messages sent offline wait in a bounded queue and go out in order on open', () => {
  const { client, latest, of } = setup({ queueSize: 3 });
  assert.equal(client.send({ type: 'message', content: 1 }), true);
  assert.equal(client.send({ type: 'message', content: 2 }), true);
  assert.equal(client.send('{"type":"message","content":3}'), true);
  assert.equal(client.send({ type: 'message', content: 4 }), false);
  assert.deepEqual(of('overflow'), [{ message: { type: 'message', content: 4 } }]);
  assert.equal(client.queued, 3);
  client.connect();
  latest().open();
  client.send({ type: 'message', content: 5 });
  assert.deepEqual(latest().sent, [
    '{"type":"hello"}',
    '{"type":"message","content":1}',
    '{"type":"message","content":2}',
    '{"type":"message","content":3}',
    '{"type":"message","content":5}',
  ]);
  assert.equal(client.queued, 0);
  client.close();
});

test('a connection that does not open within connectTimeout is dropped and retried', () => {
  const { client, timers, sockets, of } = setup({ connectTimeout: 1000 });
  client.connect();
  timers.advance(999);
  assert.equal(of('close').length, 0);
  timers.advance(1);
  assert.deepEqual(of('close'), [{ code: 1006, reason: 'connect timeout', willReconnect: true }]);
  assert.notEqual(sockets[0].closedWith, null);
  timers.advance(of('reconnecting').at(-1).delay);
  assert.equal(sockets.length, 2);
  client.close();
});

test('an online event reconnects at once while waiting, and is ignored otherwise', () => {
  const { client, sockets, latest, onlineTarget } = setup({ baseDelay: 60000 });
  client.connect();
  latest().serverClose(1006);
  assert.equal(client.state, 'reconnecting');
  onlineTarget.dispatchEvent(new Event('online'));
  assert.equal(sockets.length, 2);
  latest().open();
  onlineTarget.dispatchEvent(new Event('online'));
  assert.equal(sockets.length, 2);
  client.close();
  latest().serverClose(1006);
  onlineTarget.dispatchEvent(new Event('online'));
  assert.equal(sockets.length, 2);
});

test('close() stops everything: socket closed, no timers, no reconnect', async () => {
  const open = setup();
  open.client.connect();
  open.latest().open();
  open.client.close();
  assert.deepEqual(open.latest().closedWith, { code: 1000, reason: 'client closed' });
  assert.equal(open.client.state, 'closed');
  assert.equal(open.timers.pending, 0);
  assert.deepEqual(open.of('close'), [{ code: 1000, reason: 'client closed', willReconnect: false }]);
  open.latest().serverClose(1000);
  assert.equal(open.of('close').length, 1, 'the old socket is ignored');

  const waiting = setup();
  waiting.client.connect();
  waiting.latest().serverClose(1006);
  waiting.client.close();
  assert.equal(waiting.timers.pending, 0);
  waiting.timers.advance(60000);
  assert.equal(waiting.sockets.length, 1);

  let release;
  const fetching = setup({ getToken: () => new Promise((resolve) => { release = resolve; }) });
  fetching.client.connect();
  fetching.client.close();
  release('late token');
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(fetching.sockets.length, 0, 'a token that arrives after close() opens nothing');
  assert.equal(fetching.timers.pending, 0);
});

test('close() called from a listener leaves no timer and no socket behind', () => {
  for (const type of ['close', 'reconnecting', 'open', 'error']) {
    const { client, timers, sockets, latest } = setup();
    client.on(type, () => client.close());
    client.connect();
    latest().onerror?.({});
    latest().open();
    latest().serverClose(1006);
    assert.equal(client.state, 'closed', `close() in ${type}`);
    assert.equal(timers.pending, 0, `timers left after close() in ${type}`);
    timers.advance(60000);
    assert.equal(sockets.length, 1, `reconnected after close() in ${type}`);
  }
});

test('connect() after close() starts again with a fresh attempt counter', () => {
  const { client, timers, latest, of } = setup();
  client.connect();
  for (let index = 0; index < 3; index++) {
    latest().serverClose(1006);
    timers.advance(of('reconnecting').at(-1).delay);
  }
  client.close();
  client.connect();
  latest().serverClose(1006);
  assert.equal(of('reconnecting').at(-1).attempt, 1);
  client.close();
});
