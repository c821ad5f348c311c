// Channels against a real wsgate process, in Node and in headless Chromium: subscribe,
// backend publications, unsubscribe and nothing after; permissions from the
// connection token's grants and from subscription tokens; the server's own
// subscriptions; client publish; and a server restart on the same port during a
// subscription, after which the client subscribes again with a fresh token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import WebSocket from 'ws';

import { ChannelError, WsgateClient } from '../src/index.js';
import { openPage, pageFiles } from './support/browser.js';
import { startProxy } from './support/proxy.js';
import { nextEvent, record, waitFor } from './support/wait.js';
import { mintToken, startWsgate } from './support/wsgate.js';

const fast = { WebSocket, baseDelay: 50, maxDelay: 400, stableAfter: 1000, goingAwayDelay: 100, connectTimeout: 1000 };

// gatewayFor starts wsgate (startWsgate's flags and options) and stops it when the
// test ends; a test that restarts it replaces setup.gateway.
// steadyHeartbeat gives these servers' ping a 2 s answer time instead of the
// suite's 300 ms: these tests count subscribers with the API, and on a loaded
// machine a page that answers a ping late can be cut, reconnect and briefly have no
// subscription when the API publishes (queued 0).
const steadyHeartbeat = ['-ping-timeout', '2000ms'];

async function gatewayFor(t, flags = [], options = {}) {
  const setup = { gateway: await startWsgate([...steadyHeartbeat, ...flags], options) };
  t.after(() => setup.gateway.stop());
  return setup;
}

// api calls the HTTP API of the node at address; it resolves with { status, body }.
async function api(address, method, path, body) {
  const response = await fetch(`http://${address}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? null : JSON.parse(text) };
}

// publish publishes data to channel through the backend API and returns its answer.
async function publish(address, channel, data) {
  const { status, body } = await api(address, 'POST', `/api/v1/channels/${encodeURIComponent(channel)}/publish`, { data });
  assert.ok(status >= 200 && status < 300, `publish to ${channel}: ${status} ${JSON.stringify(body)}`);
  return body;
}

// startClient connects a client that is closed when the test ends.
function startClient(t, url, options = {}) {
  const client = new WsgateClient({ url, ...fast, ...options });
  t.after(() => client.close());
  const events = record(client, ['open', 'close', 'subscribed', 'unsubscribed', 'error', 'message']);
  client.connect();
  return { client, of: (type) => events.filter((event) => event.type === type).map((event) => event.detail) };
}

// subscribe subscribes client to channel and collects the data of its publications.
function subscribe(client, channel, options) {
  const received = [];
  const subscription = client.subscribe(channel, (publication) => received.push(publication.data), options);
  const events = record(subscription, ['subscribed', 'error', 'unsubscribed']);
  return { subscription, received, of: (type) => events.filter((event) => event.type === type).map((event) => event.detail) };
}

test('subscribe, backend publications, unsubscribe and nothing after; two channels stay apart', async (t) => {
  const { gateway } = await gatewayFor(t);
  const caught = [];
  const { client, of } = startClient(t, `ws://${gateway.address}/api/v1/ws?user_id=ann`, { onPublication: (publication) => caught.push(publication) });
  const news = subscribe(client, 'news');
  const sport = subscribe(client, 'sport');
  await waitFor(() => news.subscription.state === 'subscribed' && sport.subscription.state === 'subscribed', 5000, 'both subscribed');

  assert.equal((await publish(gateway.address, 'news', { headline: 1 })).queued, 1);
  await waitFor(() => news.received.length === 1, 5000, 'the news publication');
  assert.deepEqual(news.received, [{ headline: 1 }]);
  assert.deepEqual(sport.received, []);

  news.subscription.unsubscribe();
  await waitFor(async () => {
    const { status, body } = await api(gateway.address, 'GET', '/api/v1/channels/news');
    return status === 404 || body.subscribers === 0;
  }, 5000, 'no subscriber of news left');
  assert.equal((await publish(gateway.address, 'news', { headline: 2 })).queued, 0);
  assert.equal((await publish(gateway.address, 'sport', 'goal')).queued, 1);
  await waitFor(() => sport.received.length === 1, 5000, 'the sport publication');
  assert.deepEqual(news.received, [{ headline: 1 }], 'nothing after unsubscribe');
  assert.deepEqual(caught, []);
  assert.deepEqual(of('message'), []);
});

test('a publish the namespace does not allow comes back as an error event with its id', async (t) => {
  const { gateway } = await gatewayFor(t);
  const { client, of } = startClient(t, `ws://${gateway.address}/api/v1/ws?user_id=ann`);
  await nextEvent(client, 'open', 5000);
  await client.publish('news', 'not for clients');
  await waitFor(() => of('error').length === 1, 5000, 'the refusal');
  const [error] = of('error');
  assert.ok(error instanceof ChannelError);
  assert.equal(error.code, 'publish_not_allowed');
  assert.equal(error.channel, 'news');
  assert.equal(typeof error.id, 'number');
  assert.equal(client.state, 'open');
});

test('permissions: the token\'s grants and channels, a subscription token per channel, a refusal per subscription', async (t) => {
  const { gateway } = await gatewayFor(t, [], { jwt: true });
  const url = `ws://${gateway.address}/api/v1/ws`;
  const grants = { subscribe: ['chat:*'], publish: ['chat:*'], channels: ['user:ada'] };
  const caught = [];
  const ada = startClient(t, url, { getToken: () => mintToken('ada', { wsgate: grants }), onPublication: (publication) => caught.push(publication) });
  const bob = startClient(t, url, { getToken: () => mintToken('bob', { wsgate: { subscribe: ['chat:*'] } }) });
  await waitFor(() => ada.of('subscribed').length === 1, 5000, 'the server subscribes ada to user:ada');
  assert.equal(ada.of('subscribed')[0].channel, 'user:ada');

  const room = subscribe(ada.client, 'chat:room');
  const privateChannel = subscribe(ada.client, 'private:1', { getToken: (channel) => mintToken('ada', { channel }) });
  const forbidden = subscribe(ada.client, 'private:2');
  const stolen = subscribe(ada.client, 'private:3', { getToken: () => mintToken('ada', { channel: 'private:1' }) });
  const listener = subscribe(bob.client, 'chat:room');
  await waitFor(() => [room, privateChannel, listener].every(({ subscription }) => subscription.state === 'subscribed'), 5000, 'the allowed subscriptions');
  await waitFor(() => forbidden.subscription.state === 'failed' && stolen.subscription.state === 'failed', 5000, 'the refused subscriptions');
  assert.deepEqual([...forbidden.of('error'), ...stolen.of('error')].map((error) => error.code), ['permission_denied', 'permission_denied']);

  assert.equal((await publish(gateway.address, 'user:ada', 'personal')).queued, 1);
  await waitFor(() => caught.length === 1, 5000, 'the publication of the server\'s subscription');
  assert.equal(caught[0].channel, 'user:ada');
  assert.equal(caught[0].data, 'personal');

  await ada.client.publish('chat:room', { text: 'hi bob' });
  await waitFor(() => listener.received.length === 1, 5000, 'ada\'s publication at bob');
  assert.deepEqual(listener.received, [{ text: 'hi bob' }]);

  const removed = await api(gateway.address, 'POST', '/api/v1/users/ada/unsubscribe', { channel: 'private:1' });
  assert.ok(removed.status >= 200 && removed.status < 300, `unsubscribe by user: ${removed.status} ${JSON.stringify(removed.body)}`);
  await waitFor(() => privateChannel.subscription.state === 'unsubscribed', 5000, 'the backend\'s unsubscribe');
  const [{ reason }] = privateChannel.of('unsubscribed');
  assert.equal(typeof reason, 'string');
  assert.deepEqual(ada.of('error'), []);
});

test('server restarted on the same port during a subscription: subscribed again with a fresh token, publications flow', async (t) => {
  const setup = await gatewayFor(t, [], { jwt: true });
  const address = setup.gateway.address;
  let minted = 0;
  const { client, of } = startClient(t, `ws://${address}/api/v1/ws`, { getToken: () => mintToken('ada') });
  const news = subscribe(client, 'private:news', {
    getToken: (channel) => {
      minted += 1;
      return mintToken('ada', { channel });
    },
  });
  for (const [round, signal] of [[1, 'SIGTERM'], [2, 'SIGKILL'], [3, null]]) {
    await waitFor(() => news.of('subscribed').length === round, 10000, `subscribed to process ${round}`);
    assert.equal((await publish(setup.gateway.address, 'private:news', round)).queued, 1);
    await waitFor(() => news.received.length === round, 5000, `publication ${round}`);
    if (signal !== null) {
      await setup.gateway.stop(signal);
      setup.gateway = await startWsgate([...steadyHeartbeat, '-addr', address], { jwt: true });
    }
  }
  assert.deepEqual(news.received, [1, 2, 3]);
  assert.equal(minted, 3, 'a fresh subscription token for every connection');
  const codes = of('close').map((close) => close.code);
  assert.equal(codes[0], 1001, 'SIGTERM: going away');
  assert.ok(codes.slice(1).includes(1006), 'SIGKILL: no close frame');
  assert.deepEqual(news.of('error'), []);
});

test('in Chromium: subscribe with a token from the backend, publications, a restart on the same port', async (t) => {
  const setup = await gatewayFor(t, [], { jwt: true });
  const address = setup.gateway.address;
  let minted = 0;
  const files = pageFiles();
  files['/subscription-token'] = (url) => {
    minted += 1;
    return { type: 'text/plain', body: mintToken('page', { channel: url.searchParams.get('channel') }) };
  };
  const proxy = await startProxy(address, files);
  t.after(() => proxy.close());
  const browser = await openPage(proxy.address);
  t.after(() => browser.close());
  const subscribed = (count) => (value) => value.events.filter((event) => event.type === 'subscribed').length >= count;
  const received = (count) => (value) => value.publications.length >= count;

  await browser.inPage('create', 'page', { baseDelay: 50, maxDelay: 400, goingAwayDelay: 100, connectTimeout: 1000, token: mintToken('page') });
  await browser.inPage('subscribe', 'page', 'private:page', { tokenPath: '/subscription-token' });
  await browser.inPage('subscribe', 'page', 'private:other');
  await browser.until(5000, 'subscribed', subscribed(1), 'subscription', 'page', 'private:page');
  const other = await browser.until(5000, 'refused', (value) => value.state === 'failed', 'subscription', 'page', 'private:other');
  assert.equal(other.events[0].detail.code, 'permission_denied');
  assert.equal((await publish(address, 'private:page', 'one')).queued, 1);
  await browser.until(5000, 'the first publication', received(1), 'subscription', 'page', 'private:page');

  await setup.gateway.stop('SIGTERM');
  setup.gateway = await startWsgate([...steadyHeartbeat, '-addr', address], { jwt: true });
  await browser.until(10000, 'subscribed again', subscribed(2), 'subscription', 'page', 'private:page');
  assert.equal((await publish(address, 'private:page', 'two')).queued, 1);
  const after = await browser.until(5000, 'the second publication', received(2), 'subscription', 'page', 'private:page');
  assert.deepEqual(after.publications, ['one', 'two']);
  assert.equal(minted, 2);
  assert.equal(browser.pageError(), undefined);
});
