// Channels in Node against a small server that speaks wsgate's channel protocol
// (support/channel-server.js): subscribe, receive, unsubscribe and nothing after;
// resubscription after every reconnect with a fresh subscription token; refusals per
// subscription; retries after rate_limited; the server's own subscriptions; publish.
// The same against a real wsgate: channels-wsgate.test.js.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';

import { ChannelError, WsgateClient } from '../src/index.js';
import { startChannelServer } from './support/channel-server.js';
import { FakeTimers, fakeWebSocketClass } from './support/fakes.js';
import { nextEvent, record, waitFor } from './support/wait.js';

const fast = { WebSocket, baseDelay: 20, maxDelay: 100, stableAfter: 1000, goingAwayDelay: 20, connectTimeout: 1000 };

// channelServer starts a channel server (startChannelServer's options) that stops when
// the test ends.
async function channelServer(t, options) {
  const server = await startChannelServer(options);
  t.after(() => server.close());
  return server;
}

// startClient connects a client that is closed when the test ends; it records its
// events and the `message` events.
function startClient(t, url, options = {}) {
  const client = new WsgateClient({ url, ...fast, ...options });
  t.after(() => client.close());
  const events = record(client, ['open', 'close', 'subscribed', 'unsubscribed', 'error', 'message']);
  client.connect();
  return { client, events, of: (type) => events.filter((event) => event.type === type).map((event) => event.detail) };
}

// watch records a subscription's events, and collects the data of the publications
// its handler is given in `received`.
function subscribe(client, channel, options) {
  const received = [];
  const subscription = client.subscribe(channel, (publication) => received.push(publication.data), options);
  const events = record(subscription, ['subscribed', 'error', 'unsubscribed']);
  return { subscription, received, events, of: (type) => events.filter((event) => event.type === type).map((event) => event.detail) };
}

test('subscribe, receive, unsubscribe and nothing after; two channels stay apart', async (t) => {
  const server = await channelServer(t);
  const caught = [];
  const { client, of } = startClient(t, server.url, { onPublication: (publication) => caught.push(publication) });
  const news = subscribe(client, 'news');
  const sport = subscribe(client, 'sport');
  assert.equal(news.subscription.state, 'subscribing');
  assert.equal(news.subscription.channel, 'news');
  await waitFor(() => news.subscription.state === 'subscribed' && sport.subscription.state === 'subscribed', 5000, 'both subscribed');
  assert.deepEqual(news.of('subscribed'), [{ type: 'subscribed', channel: 'news', id: server.requests('subscribe')[0].id }]);

  assert.equal(server.publish('news', { headline: 1 }), 1);
  assert.equal(server.publish('sport', 'goal'), 1);
  await waitFor(() => news.received.length === 1 && sport.received.length === 1, 5000, 'one publication each');
  assert.deepEqual(news.received, [{ headline: 1 }]);
  assert.deepEqual(sport.received, ['goal']);

  const connection = server.latest;
  news.subscription.unsubscribe();
  assert.equal(news.subscription.state, 'unsubscribed');
  assert.deepEqual(news.of('unsubscribed'), [{ channel: 'news', reason: undefined }]);
  const again = subscribe(client, 'news');
  // A publication the server sent before it read the unsubscribe belongs to neither
  // the ended subscription nor the new one.
  server.send(connection, { type: 'publication', channel: 'news', data: 'in flight' });
  await waitFor(() => again.subscription.state === 'subscribed', 5000, 'subscribed again');
  assert.deepEqual(server.requests('unsubscribe').map(({ channel }) => channel), ['news']);
  assert.equal(typeof server.requests('unsubscribe')[0].id, 'number');
  server.publish('news', { headline: 2 });
  server.publish('sport', 'second goal');
  await waitFor(() => sport.received.length === 2 && again.received.length === 1, 5000, 'the next publications');
  assert.deepEqual(again.received, [{ headline: 2 }]);
  assert.deepEqual(news.received, [{ headline: 1 }], 'nothing after unsubscribe');
  assert.deepEqual(caught, [], 'nothing for the catch-all');
  assert.deepEqual(of('message'), [], 'channel messages are not message events');

  again.subscription.unsubscribe();
  await waitFor(() => !connection.channels.has('news'), 5000, 'the second unsubscribe at the server');
  server.send(connection, { type: 'publication', channel: 'news', data: 'stray' });
  server.publish('sport', 'third goal');
  await waitFor(() => sport.received.length === 3, 5000, 'the third sport publication');
  assert.deepEqual(again.received, [{ headline: 2 }]);
  assert.deepEqual(caught.map((publication) => publication.data), ['stray'], 'a publication of no subscription of this client goes to the catch-all');
  assert.throws(() => client.subscribe('sport', () => {}), /already subscribed to sport/);
});

test('every reconnect subscribes again with a fresh subscription token, after 1001 and 4000 alike', async (t) => {
  const server = await channelServer(t, { subscribe: (channel, token) => (token?.startsWith(`${channel}-`) ? undefined : 'permission_denied') });
  let minted = 0;
  const { client, of } = startClient(t, server.url);
  const news = subscribe(client, 'news', {
    getToken: async (channel) => {
      minted += 1;
      return `${channel}-${minted}`;
    },
  });
  for (const [round, code] of [[1, 1001], [2, 4000], [3, null]]) {
    await waitFor(() => news.of('subscribed').length === round, 5000, `subscribed on connection ${round}`);
    assert.equal(news.subscription.state, 'subscribed');
    assert.equal(server.publish('news', round), 1);
    await waitFor(() => news.received.length === round, 5000, `publication ${round}`);
    if (code !== null) {
      server.closeAll(code, 'bye');
      await waitFor(() => of('close').length === round, 5000, `close ${round}`);
      assert.equal(news.subscription.state, 'subscribing', 'subscribing again while reconnecting');
    }
  }
  assert.deepEqual(server.requests('subscribe').map(({ channel, token, connection }) => ({ channel, token, connection })), [
    { channel: 'news', token: 'news-1', connection: 0 },
    { channel: 'news', token: 'news-2', connection: 1 },
    { channel: 'news', token: 'news-3', connection: 2 },
  ]);
  assert.deepEqual(news.received, [1, 2, 3]);
  assert.deepEqual(news.of('error'), []);
});

test('the client-wide getSubscriptionToken serves subscriptions without their own; a failing token source is retried', async (t) => {
  const server = await channelServer(t, { subscribe: (channel, token) => (token === `for ${channel}` ? undefined : 'permission_denied') });
  let failures = 1;
  const { client } = startClient(t, server.url, {
    getSubscriptionToken: (channel) => {
      if (failures > 0) {
        failures -= 1;
        throw new Error('token endpoint down');
      }
      return `for ${channel}`;
    },
  });
  const news = subscribe(client, 'news');
  await waitFor(() => news.subscription.state === 'subscribed', 5000, 'subscribed after the token source recovered');
  assert.deepEqual(news.of('error').map(String), ['Error: token endpoint down']);
  assert.deepEqual(server.requests('subscribe').map(({ token }) => token), ['for news']);
});

test('a refused subscription fails alone: the client and the other subscriptions carry on, and it is not renewed', async (t) => {
  const server = await channelServer(t, { subscribe: (channel) => (channel === 'secret' ? 'permission_denied' : undefined) });
  const { client, of } = startClient(t, server.url);
  const secret = subscribe(client, 'secret');
  const news = subscribe(client, 'news');
  await waitFor(() => secret.subscription.state === 'failed' && news.subscription.state === 'subscribed', 5000, 'one failed, one subscribed');
  const [error] = secret.of('error');
  assert.ok(error instanceof ChannelError);
  assert.equal(error.code, 'permission_denied');
  assert.equal(error.channel, 'secret');
  assert.equal(error.temporary, false);
  assert.equal(error.id, server.requests('subscribe').find((request) => request.channel === 'secret').id);
  assert.equal(client.state, 'open');
  assert.deepEqual(of('error'), [], 'a subscription error is the subscription\'s');

  server.closeAll(1001, 'restart');
  await waitFor(() => news.of('subscribed').length === 2, 5000, 'news subscribed again');
  assert.deepEqual(server.requests('subscribe').filter((request) => request.connection === 1).map((request) => request.channel), ['news']);
  const retry = subscribe(client, 'secret');
  await waitFor(() => retry.subscription.state === 'failed', 5000, 'a new subscription to the channel is refused again');
});

test('rate_limited and too_many_subscribers are retried with backoff until the server accepts', async (t) => {
  const refusals = ['rate_limited', 'too_many_subscribers'];
  const server = await channelServer(t, { subscribe: () => refusals.shift() });
  const { client } = startClient(t, server.url);
  const news = subscribe(client, 'news');
  await waitFor(() => news.subscription.state === 'subscribed', 5000, 'subscribed after two refusals');
  assert.deepEqual(news.of('error').map((error) => [error.code, error.temporary]), [['rate_limited', true], ['too_many_subscribers', true]]);
  assert.equal(server.requests('subscribe').length, 3);
  assert.equal(news.of('subscribed').length, 1);
});

test('the server\'s own subscriptions: a subscribed event, publications to onPublication, removal with a reason', async (t) => {
  const server = await channelServer(t, { onHello: (connection) => server.subscribe(connection, 'user:42', { offset: 7 }) });
  const caught = [];
  const { client, of } = startClient(t, server.url, { onPublication: (publication) => caught.push(publication) });
  const news = subscribe(client, 'news');
  await waitFor(() => of('subscribed').length === 1 && news.subscription.state === 'subscribed', 5000, 'both subscriptions');
  assert.deepEqual(of('subscribed'), [{ type: 'subscribed', channel: 'user:42', offset: 7 }], 'unknown fields are kept');

  server.publish('user:42', { note: 'for you' });
  server.publish('news', 'headline');
  await waitFor(() => caught.length === 1 && news.received.length === 1, 5000, 'both publications');
  assert.deepEqual(caught, [{ type: 'publication', channel: 'user:42', data: { note: 'for you' } }]);
  assert.deepEqual(news.received, ['headline']);

  server.unsubscribe(server.latest, 'user:42', 'backend');
  server.unsubscribe(server.latest, 'news', 'kicked out');
  await waitFor(() => of('unsubscribed').length === 1 && news.subscription.state === 'unsubscribed', 5000, 'both removed');
  assert.deepEqual(of('unsubscribed'), [{ type: 'unsubscribed', channel: 'user:42', reason: 'backend' }]);
  assert.deepEqual(news.of('unsubscribed'), [{ channel: 'news', reason: 'kicked out' }]);

  server.closeAll(1001, 'restart');
  await waitFor(() => of('subscribed').length === 2, 5000, 'the server subscribes the new connection itself');
  assert.deepEqual(server.requests('subscribe').map((request) => request.channel), ['news'], 'a removed subscription is not renewed');
  client.unsubscribe('user:42');
  await waitFor(() => !server.latest.channels.has('user:42'), 5000, 'the client unsubscribed from the server\'s subscription');
  assert.equal(server.publish('user:42', 'late'), 0);
});

test('subscribing to a channel the server subscribed the connection to already counts as subscribed', async (t) => {
  const server = await channelServer(t, { onHello: (connection) => server.subscribe(connection, 'user:42') });
  const { client, of } = startClient(t, server.url);
  const mine = subscribe(client, 'user:42');
  await waitFor(() => server.connections[0]?.received.some((message) => message.type === 'subscribe'), 5000, 'the subscribe');
  await waitFor(() => mine.subscription.state === 'subscribed', 5000, 'subscribed');
  server.publish('user:42', 'mine');
  await waitFor(() => mine.received.length === 1, 5000, 'the publication at the subscription');
  assert.equal(mine.of('subscribed').length, 1);
  assert.deepEqual(mine.of('error'), []);
  assert.deepEqual(of('subscribed'), [], 'no server-side subscription event for a channel the client subscribed to');
});

test('publish: resolves once written; a refusal comes back as an error event with the publish id', async (t) => {
  const server = await channelServer(t, { publish: (channel) => (channel.startsWith('chat:') ? undefined : 'publish_not_allowed') });
  const reader = startClient(t, server.url);
  const room = subscribe(reader.client, 'chat:room');
  await waitFor(() => room.subscription.state === 'subscribed', 5000, 'the reader subscribed');

  const { client, of } = startClient(t, server.url);
  await nextEvent(client, 'open', 5000);
  assert.equal(await client.publish('chat:room', { text: 'hi' }), undefined);
  await waitFor(() => room.received.length === 1, 5000, 'the publication at the reader');
  assert.deepEqual(room.received, [{ text: 'hi' }]);

  await client.publish('news', 'not mine to publish');
  const [error] = await waitFor(() => of('error').length === 1, 5000, 'the refusal').then(() => of('error'));
  assert.ok(error instanceof ChannelError);
  assert.equal(error.code, 'publish_not_allowed');
  assert.equal(error.channel, 'news');
  const sent = server.requests('publish');
  assert.deepEqual(sent.map(({ channel, data }) => ({ channel, data })), [{ channel: 'chat:room', data: { text: 'hi' } }, { channel: 'news', data: 'not mine to publish' }]);
  assert.equal(error.id, sent[1].id);
  assert.notEqual(sent[0].id, sent[1].id);
  await assert.rejects(client.publish('news', undefined), TypeError);
  assert.deepEqual(of('message'), []);
});

test('publish with a server that acknowledges, offline, and at close()', async (t) => {
  const server = await channelServer(t, { publish: () => undefined, ack: true });
  const { client, of } = startClient(t, server.url);
  await nextEvent(client, 'open', 5000);
  await client.publish('chat:room', 1);
  await waitFor(() => server.requests('publish').length === 1, 5000, 'the publish at the server');
  assert.deepEqual(of('message'), [], 'the acknowledgement is no message event');

  const offline = new WsgateClient({ url: server.url, ...fast });
  t.after(() => offline.close());
  let written = false;
  const queued = offline.publish('chat:room', 'while offline').then(() => {
    written = true;
  });
  assert.equal(offline.queued, 1);
  offline.connect();
  await queued;
  assert.ok(written);
  await waitFor(() => server.requests('publish').some((request) => request.data === 'while offline'), 5000, 'the queued publish');

  const stopped = new WsgateClient({ url: 'ws://127.0.0.1:1/api/v1/ws', ...fast });
  stopped.connect();
  const dropped = stopped.publish('chat:room', 'never');
  stopped.send({ type: 'message', content: 'kept' });
  stopped.close();
  await assert.rejects(dropped, /closed before the publication was written/);
  assert.equal(stopped.queued, 1, 'messages from send stay queued');
});

test('a retry waits out its backoff on the client\'s clock, and close() leaves no timer behind', () => {
  const timers = new FakeTimers();
  const FakeWebSocket = fakeWebSocketClass();
  const client = new WsgateClient({
    url: 'ws://gateway.test/api/v1/ws', WebSocket: FakeWebSocket, timers, onlineTarget: null, random: () => 1 - Number.EPSILON,
    hello: false, pingInterval: 0, pingTimeout: 0, baseDelay: 100, maxDelay: 1000, stableAfter: 1000,
  });
  const news = client.subscribe('news', () => {});
  client.connect();
  const socket = FakeWebSocket.instances[0];
  socket.open();
  const sent = () => socket.sent.map((text) => JSON.parse(text));
  for (const [attempt, ceiling] of [[1, 100], [2, 200], [3, 400]]) {
    const request = sent().at(-1);
    assert.deepEqual(request, { type: 'subscribe', channel: 'news', id: attempt });
    socket.receive({ type: 'error', code: 'rate_limited', message: 'slow down', channel: 'news', id: request.id });
    assert.equal(news.state, 'subscribing');
    timers.advance(ceiling - 1);
    assert.equal(socket.sent.length, attempt, `retry ${attempt} came before its delay`);
    timers.advance(1);
    assert.equal(socket.sent.length, attempt + 1, `retry ${attempt} did not come after its delay`);
  }
  socket.receive({ type: 'error', code: 'rate_limited', message: 'slow down', channel: 'news', id: 4 });
  client.close();
  assert.equal(timers.pending, 0, 'timers left after close()');
  assert.equal(news.state, 'subscribing', 'kept for a later connect()');
  client.connect();
  const next = FakeWebSocket.instances[1];
  next.open();
  assert.deepEqual(JSON.parse(next.sent[0]), { type: 'subscribe', channel: 'news', id: 5 });
  next.receive({ type: 'subscribed', channel: 'news', id: 5 });
  assert.equal(news.state, 'subscribed');
  client.close();
});
