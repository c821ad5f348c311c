// Recovery in channels with history, at the level of the wire (fake sockets, fake
// clock): the position kept from `subscribed` and from each publication's offset, the
// recover request on every resubscribe, the `recovery` event, duplicates dropped, a
// stream started over, channels without history, `since`. Against a real wsgate:
// recovery-wsgate.test.js.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { WsgateClient } from '../src/index.js';
import { FakeTimers, fakeWebSocketClass } from './support/fakes.js';
import { record } from './support/wait.js';

// setup returns a client on fake sockets (no hello, no heartbeat) subscribed to
// channel (subscribe's options), with the subscription's events and the offsets and
// data its handler got. connect() opens the next socket and returns it; subscribes()
// lists the subscribe requests written on a socket.
function setup(t, channel = 'news', options = {}) {
  const timers = new FakeTimers();
  const FakeWebSocket = fakeWebSocketClass();
  const client = new WsgateClient({
    url: 'ws://gateway.test/api/v1/ws', WebSocket: FakeWebSocket, timers, onlineTarget: null, random: () => 0,
    hello: false, pingInterval: 0, pingTimeout: 0,
  });
  t.after(() => client.close());
  const received = [];
  const subscription = client.subscribe(channel, (publication) => received.push([publication.offset, publication.data]), options);
  const events = record(subscription, ['subscribed', 'recovery', 'error', 'unsubscribed']);
  client.connect();
  const connect = () => {
    const socket = FakeWebSocket.instances.at(-1);
    socket.open();
    return socket;
  };
  // reconnect drops the open socket and opens the next one (the backoff is 0).
  const reconnect = (socket) => {
    socket.serverClose(1006);
    timers.advance(0);
    return connect();
  };
  const subscribes = (socket) => socket.sent.map((text) => JSON.parse(text)).filter((message) => message.type === 'subscribe');
  const of = (type) => events.filter((event) => event.type === type).map((event) => event.detail);
  return { client, subscription, received, of, connect, reconnect, subscribes };
}

// publication is a publication of channel news with offset.
const publication = (offset, data = offset) => ({ type: 'publication', channel: 'news', data, offset });

test('the first subscribe is plain; every resubscribe recovers from the last delivered offset and epoch', (t) => {
  const { subscription, received, of, connect, reconnect, subscribes } = setup(t);
  const first = connect();
  assert.deepEqual(subscribes(first), [{ type: 'subscribe', channel: 'news', id: 1 }]);
  assert.equal(subscription.position, null, 'no position before subscribed');
  first.receive({ type: 'subscribed', channel: 'news', id: 1, offset: 10, epoch: 'e1' });
  assert.deepEqual(subscription.position, { offset: 10, epoch: 'e1' });
  assert.deepEqual(of('recovery'), [], 'no recovery event after the first subscribe');
  first.receive(publication(11));
  first.receive(publication(12));
  assert.deepEqual(subscription.position, { offset: 12, epoch: 'e1' });

  const second = reconnect(first);
  assert.equal(subscription.state, 'subscribing');
  assert.deepEqual(subscribes(second), [{ type: 'subscribe', channel: 'news', id: 2, recover: true, offset: 12, epoch: 'e1' }]);
  second.receive({ type: 'subscribed', channel: 'news', id: 2, recovered: true, offset: 15, epoch: 'e1' });
  assert.deepEqual(of('recovery'), [{ channel: 'news', recovered: true, position: { offset: 12, epoch: 'e1' } }]);
  for (const offset of [13, 14, 15, 16]) {
    second.receive(publication(offset));
  }
  assert.deepEqual(received.map(([offset]) => offset), [11, 12, 13, 14, 15, 16]);

  const third = reconnect(second);
  assert.deepEqual(subscribes(third)[0], { type: 'subscribe', channel: 'news', id: 3, recover: true, offset: 16, epoch: 'e1' });
  assert.deepEqual(of('subscribed').map((message) => message.id), [1, 2]);
});

test('recovered:false is surfaced with the server\'s position, from which publications go on', (t) => {
  const { subscription, received, of, connect, reconnect, subscribes } = setup(t);
  const first = connect();
  first.receive({ type: 'subscribed', channel: 'news', id: 1, offset: 3, epoch: 'e1' });
  first.receive(publication(4));
  const second = reconnect(first);
  assert.deepEqual(subscribes(second)[0], { type: 'subscribe', channel: 'news', id: 2, recover: true, offset: 4, epoch: 'e1' });
  second.receive({ type: 'subscribed', channel: 'news', id: 2, recovered: false, offset: 2, epoch: 'e2' });
  assert.deepEqual(of('recovery'), [{ channel: 'news', recovered: false, position: { offset: 2, epoch: 'e2' } }]);
  assert.deepEqual(subscription.position, { offset: 2, epoch: 'e2' });
  second.receive(publication(3, 'new stream'));
  assert.deepEqual(received, [[4, 4], [3, 'new stream']]);
  const third = reconnect(second);
  assert.deepEqual(subscribes(third)[0], { type: 'subscribe', channel: 'news', id: 3, recover: true, offset: 3, epoch: 'e2' });
});

test('recovered:true with another epoch than asked for counts as not recovered', (t) => {
  const { of, connect, reconnect } = setup(t);
  const first = connect();
  first.receive({ type: 'subscribed', channel: 'news', id: 1, offset: 3, epoch: 'e1' });
  const second = reconnect(first);
  second.receive({ type: 'subscribed', channel: 'news', id: 2, recovered: true, offset: 3, epoch: 'e2' });
  assert.deepEqual(of('recovery'), [{ channel: 'news', recovered: false, position: { offset: 3, epoch: 'e2' } }]);
});

test('a publication at or below the last delivered offset is dropped as a duplicate; offset 1 starts the stream over', (t) => {
  const { subscription, received, of, connect, reconnect, subscribes } = setup(t);
  const first = connect();
  first.receive({ type: 'subscribed', channel: 'news', id: 1, offset: 0, epoch: 'e1' });
  for (const offset of [1, 2, 3, 2, 3, 4]) {
    first.receive(publication(offset));
  }
  assert.deepEqual(received.map(([offset]) => offset), [1, 2, 3, 4], 'each once, in order');
  // A store started the stream again from 1 while the subscription was live (a
  // cluster's Redis flushed), under an epoch the client cannot know.
  first.receive(publication(1, 'restarted'));
  first.receive(publication(2, 'restarted'));
  assert.deepEqual(received.slice(4), [[1, 'restarted'], [2, 'restarted']]);
  assert.deepEqual(subscription.position, { offset: 2, epoch: 'e1' });
  const second = reconnect(first);
  assert.deepEqual(subscribes(second)[0], { type: 'subscribe', channel: 'news', id: 2, recover: true, offset: 2, epoch: 'e1' });
  second.receive({ type: 'subscribed', channel: 'news', id: 2, recovered: false, offset: 2, epoch: 'e2' });
  assert.equal(of('recovery')[0].recovered, false);
  second.receive(publication(2, 'dup'));
  assert.equal(received.length, 6);
});

test('a channel without history: plain resubscribes, no recovery event, publications delivered as they come', (t) => {
  const { subscription, received, of, connect, reconnect, subscribes } = setup(t);
  const first = connect();
  first.receive({ type: 'subscribed', channel: 'news', id: 1 });
  first.receive({ type: 'publication', channel: 'news', data: 'a' });
  first.receive({ type: 'publication', channel: 'news', data: 'a' });
  const second = reconnect(first);
  assert.deepEqual(subscribes(second), [{ type: 'subscribe', channel: 'news', id: 2 }]);
  second.receive({ type: 'subscribed', channel: 'news', id: 2 });
  assert.equal(subscription.position, null);
  assert.deepEqual(of('recovery'), []);
  assert.deepEqual(received, [[undefined, 'a'], [undefined, 'a']]);
});

test('a channel whose history was turned off: recovered:false without position, then plain resubscribes', (t) => {
  const { subscription, of, connect, reconnect, subscribes } = setup(t);
  const first = connect();
  first.receive({ type: 'subscribed', channel: 'news', id: 1, offset: 5, epoch: 'e1' });
  const second = reconnect(first);
  second.receive({ type: 'subscribed', channel: 'news', id: 2 });
  assert.deepEqual(of('recovery'), [{ channel: 'news', recovered: false, position: null }]);
  assert.equal(subscription.position, null);
  const third = reconnect(second);
  assert.deepEqual(subscribes(third), [{ type: 'subscribe', channel: 'news', id: 3 }]);
});

test('since: the first subscribe recovers from a position the application had, with a recovery event', (t) => {
  const { subscription, received, of, connect, subscribes } = setup(t, 'news', { since: { offset: 40, epoch: 'e9' } });
  assert.deepEqual(subscription.position, { offset: 40, epoch: 'e9' });
  const first = connect();
  assert.deepEqual(subscribes(first), [{ type: 'subscribe', channel: 'news', id: 1, recover: true, offset: 40, epoch: 'e9' }]);
  first.receive({ type: 'subscribed', channel: 'news', id: 1, recovered: true, offset: 41, epoch: 'e9' });
  first.receive(publication(40, 'already had it'));
  first.receive(publication(41));
  assert.deepEqual(of('recovery'), [{ channel: 'news', recovered: true, position: { offset: 40, epoch: 'e9' } }]);
  assert.deepEqual(received, [[41, 41]]);
});

test('since must be a position', (t) => {
  const client = new WsgateClient({ url: 'ws://gateway.test/api/v1/ws', WebSocket: fakeWebSocketClass(), onlineTarget: null });
  t.after(() => client.close());
  for (const since of [{}, { offset: -1, epoch: 'e' }, { offset: 1.5, epoch: 'e' }, { offset: 1, epoch: '' }, { offset: '1', epoch: 'e' }, null]) {
    assert.throws(() => client.subscribe('news', () => {}, { since }), TypeError, JSON.stringify(since));
  }
});

test('already_subscribed on a resubscribe that asked to recover: recovered:false, the position kept', (t) => {
  const { subscription, of, connect, reconnect } = setup(t);
  const first = connect();
  first.receive({ type: 'subscribed', channel: 'news', id: 1, offset: 5, epoch: 'e1' });
  const second = reconnect(first);
  second.receive({ type: 'error', code: 'already_subscribed', message: 'already', channel: 'news', id: 2 });
  assert.equal(subscription.state, 'subscribed');
  assert.deepEqual(of('recovery'), [{ channel: 'news', recovered: false, position: { offset: 5, epoch: 'e1' } }]);
});
