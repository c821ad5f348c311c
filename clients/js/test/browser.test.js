// The client in headless Chromium (Debian's /usr/bin/chromium through playwright-core)
// against a real wsgate behind the test proxy, which also serves the page so that page
// and WebSocket share one origin: echo and broadcast, server kill and restart with the
// offline queue, a frozen network, the `online` event, and close(). Channels against a
// server that speaks the channel protocol (support/channel-server.js); against a real
// wsgate in channels-wsgate.test.js.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { after, before, test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';

import { openPage, pageFiles } from './support/browser.js';
import { startChannelServer } from './support/channel-server.js';
import { startProxy } from './support/proxy.js';
import { PING_INTERVAL, PING_TIMEOUT, mintToken, startWsgate } from './support/wsgate.js';

const fast = { baseDelay: 50, maxDelay: 400, stableAfter: 1000, goingAwayDelay: 100, connectTimeout: 1000 };

const files = pageFiles();
const setup = {};
// tokenSource, when set, answers the page's requests to /subscription-token.
let tokenSource = null;
files['/subscription-token'] = (url) => (tokenSource ? { type: 'text/plain', body: tokenSource(url.searchParams.get('channel')) } : null);

before(async () => {
  setup.gateway = await startWsgate();
  setup.proxy = await startProxy(setup.gateway.address, files);
  setup.browser = await openPage(setup.proxy.address);
  setup.context = setup.browser.context;
});

after(async () => {
  await setup.browser?.close();
  await setup.proxy?.close();
  await setup.gateway?.stop();
});

// inPage evaluates harness.method(...args) in the page.
const inPage = (method, ...args) => setup.browser.inPage(method, ...args);

// until waits (at most timeout ms) for harness.method(...args) to satisfy check.
const until = (...args) => setup.browser.until(...args);

const atLeast = (count) => (value) => value >= count;

async function restartGateway(signal) {
  await setup.gateway.stop(signal);
  setup.gateway = await startWsgate();
  setup.proxy.setTarget(setup.gateway.address);
}

test('echo and broadcast between two clients in the page', async (t) => {
  t.after(() => inPage('closeAll'));
  await inPage('create', 'alice', fast);
  await inPage('create', 'bob', fast);
  await until(5000, 'both welcomed', atLeast(1), 'count', 'alice', 'welcome');
  await until(5000, 'bob welcomed', atLeast(1), 'count', 'bob', 'welcome');
  assert.equal(await inPage('state', 'alice'), 'open');
  await inPage('send', 'alice', { type: 'message', content: 'echo me' });
  await inPage('send', 'alice', { type: 'broadcast', content: 'to bob' });
  await until(5000, 'the broadcast at bob', (log) => log.messages.length >= 1, 'log', 'bob');
  const alice = await until(5000, 'the echo at alice', (log) => log.messages.length >= 1, 'log', 'alice');
  assert.deepEqual(alice.messages, [{ type: 'message', content: 'echo me' }]);
  assert.deepEqual((await inPage('log', 'bob')).messages, [{ type: 'broadcast', content: 'to bob' }]);
  assert.equal(setup.browser.pageError(), undefined);
});

test('the page client sends its token in the subprotocol, not the URL, and wsgate accepts it', async (t) => {
  const jwtGateway = await startWsgate([], { jwt: true });
  setup.proxy.setTarget(jwtGateway.address);
  t.after(async () => {
    await inPage('closeAll');
    setup.proxy.setTarget(setup.gateway.address);
    await jwtGateway.stop();
  });
  const upgradesBefore = setup.proxy.upgrades.length;
  const token = mintToken('ida');
  await inPage('create', 'ida', { ...fast, token });
  const log = await until(5000, 'welcome', (value) => value.events.some((event) => event.type === 'welcome'), 'log', 'ida');
  assert.equal(log.events.find((event) => event.type === 'welcome').detail.user_id, 'ida');
  assert.deepEqual(setup.proxy.upgrades.slice(upgradesBefore), [{ url: '/api/v1/ws', protocol: `wsgate.v1, bearer.${token}` }]);
  await inPage('send', 'ida', { type: 'message', content: 'signed in' });
  await until(5000, 'the echo', (value) => value.messages.some((message) => message.content === 'signed in'), 'log', 'ida');
});

test('server killed and restarted: the page client reconnects and flushes its queue in order', async (t) => {
  t.after(() => inPage('closeAll'));
  await inPage('create', 'carol', fast);
  await until(5000, 'welcome', atLeast(1), 'count', 'carol', 'welcome');
  await setup.gateway.stop('SIGKILL');
  await until(5000, 'two failed attempts', atLeast(2), 'count', 'carol', 'reconnecting');
  assert.notEqual(await inPage('state', 'carol'), 'open');
  for (const content of ['one', 'two', 'three']) {
    assert.equal(await inPage('send', 'carol', { type: 'message', content }), true);
  }
  setup.gateway = await startWsgate();
  setup.proxy.setTarget(setup.gateway.address);
  const log = await until(10000, 'the queued echoes', (value) => value.messages.length >= 3, 'log', 'carol');
  assert.deepEqual(log.messages.map((message) => message.content), ['one', 'two', 'three']);
  assert.equal(log.events.find((event) => event.type === 'close').detail.code, 1006);
});

test('graceful restart: 1001 going away, then the page client is back', async (t) => {
  t.after(() => inPage('closeAll'));
  await inPage('create', 'erin', fast);
  await until(5000, 'welcome', atLeast(1), 'count', 'erin', 'welcome');
  await restartGateway('SIGTERM');
  await until(10000, 'reopened', atLeast(2), 'count', 'erin', 'open');
  const closes = (await inPage('log', 'erin')).events.filter((event) => event.type === 'close');
  assert.deepEqual(closes[0].detail, { code: 1001, reason: 'server shutting down', willReconnect: true });
});

test('frozen network: the page client notices within ping interval + timeout and reconnects after restore', async (t) => {
  t.after(() => inPage('closeAll'));
  await inPage('create', 'dave', fast);
  await until(5000, 'welcome', atLeast(1), 'count', 'dave', 'welcome');
  const frozenAt = Date.now();
  setup.proxy.freeze();
  await until(5000, 'the dead connection noticed', atLeast(1), 'count', 'dave', 'close');
  const noticedAfter = Date.now() - frozenAt;
  assert.ok(noticedAfter <= PING_INTERVAL + PING_TIMEOUT + 400, `noticed after ${noticedAfter} ms`);
  const close = (await inPage('log', 'dave')).events.find((event) => event.type === 'close');
  assert.deepEqual(close.detail, { code: 4000, reason: 'heartbeat timeout', willReconnect: true });
  setup.proxy.restore();
  await until(10000, 'welcome after restore', atLeast(2), 'count', 'dave', 'welcome');
  await inPage('send', 'dave', { type: 'message', content: 'thawed' });
  await until(5000, 'echo after restore', (log) => log.messages.some((message) => message.content === 'thawed'), 'log', 'dave');
});

test('the online event reconnects at once instead of waiting out the backoff', async (t) => {
  t.after(() => inPage('closeAll'));
  await inPage('create', 'frank', { ...fast, baseDelay: 60000, maxDelay: 60000, random: 0.99 });
  await until(5000, 'welcome', atLeast(1), 'count', 'frank', 'welcome');
  await restartGateway('SIGKILL');
  const log = await until(5000, 'a long backoff', atLeast(1), 'count', 'frank', 'reconnecting');
  assert.equal(log, 1);
  assert.equal(await inPage('state', 'frank'), 'reconnecting');
  const started = Date.now();
  await setup.context.setOffline(true);
  await setup.context.setOffline(false);
  await until(5000, 'reopened after online', atLeast(2), 'count', 'frank', 'open');
  assert.ok(Date.now() - started < 5000, 'reconnected long before the 59 s backoff');
});

test('close() in the page stops every attempt', async (t) => {
  t.after(() => inPage('closeAll'));
  await inPage('create', 'grace', fast);
  await until(5000, 'welcome', atLeast(1), 'count', 'grace', 'welcome');
  await setup.gateway.stop('SIGKILL');
  await until(5000, 'reconnecting', atLeast(1), 'count', 'grace', 'reconnecting');
  await inPage('close', 'grace');
  const eventsAtClose = (await inPage('log', 'grace')).events.length;
  setup.gateway = await startWsgate();
  setup.proxy.setTarget(setup.gateway.address);
  // Only waiting can show that nothing happens: several times the longest backoff.
  await delay(5 * fast.maxDelay);
  assert.equal(await inPage('state', 'grace'), 'closed');
  assert.equal(setup.proxy.connections, 0, 'connections after close()');
  const events = (await inPage('log', 'grace')).events;
  assert.equal(events.length, eventsAtClose, `events after close(): ${JSON.stringify(events.slice(eventsAtClose))}`);
  assert.deepEqual(events.at(-1).detail, { code: 1000, reason: 'client closed', willReconnect: false });
});

test('channels in the page: tokens from the backend, resubscription after a restart, a refusal stays with its subscription', async (t) => {
  const channels = await startChannelServer({
    subscribe: (channel, token) => (channel !== 'secret' && token?.startsWith(`${channel}-`) ? undefined : 'permission_denied'),
  });
  let minted = 0;
  tokenSource = (channel) => `${channel}-${++minted}`;
  setup.proxy.setTarget(channels.address);
  t.after(async () => {
    await inPage('closeAll');
    tokenSource = null;
    setup.proxy.setTarget(setup.gateway.address);
    await channels.close();
  });
  await inPage('create', 'hana', fast);
  await inPage('subscribe', 'hana', 'news', { tokenPath: '/subscription-token' });
  await inPage('subscribe', 'hana', 'secret');
  const subscribed = (count) => (value) => value.events.filter((event) => event.type === 'subscribed').length >= count;
  await until(5000, 'news subscribed', subscribed(1), 'subscription', 'hana', 'news');
  const secret = await until(5000, 'secret refused', (value) => value.state === 'failed', 'subscription', 'hana', 'secret');
  assert.deepEqual(secret.events.map((event) => [event.type, event.detail.name, event.detail.code]), [['error', 'ChannelError', 'permission_denied']]);
  channels.publish('news', { n: 1 });
  await until(5000, 'the first publication', (value) => value.publications.length === 1, 'subscription', 'hana', 'news');

  channels.closeAll(1001, 'server shutting down');
  const news = await until(10000, 'news subscribed again', subscribed(2), 'subscription', 'hana', 'news');
  assert.equal(news.state, 'subscribed');
  channels.publish('news', { n: 2 });
  const after = await until(5000, 'the second publication', (value) => value.publications.length === 2, 'subscription', 'hana', 'news');
  assert.deepEqual(after.publications, [{ n: 1 }, { n: 2 }]);
  // In connection order; within a connection, the order depends on when each token came.
  const requests = channels.requests('subscribe').map(({ channel, token, connection }) => [connection, channel, token]);
  assert.deepEqual(requests.sort(), [[0, 'news', 'news-1'], [0, 'secret', undefined], [1, 'news', 'news-2']]);

  assert.equal(await inPage('publish', 'hana', 'news', 'from the page'), 'written');
  const log = await until(5000, 'the refused publish', (value) => value.events.some((event) => event.type === 'error'), 'log', 'hana');
  const refusal = log.events.find((event) => event.type === 'error').detail;
  assert.deepEqual([refusal.name, refusal.code, refusal.channel, refusal.id], ['ChannelError', 'publish_not_allowed', 'news', channels.requests('publish')[0].id]);
  assert.deepEqual(log.messages, [], 'channel messages are not message events');
  assert.equal(setup.browser.pageError(), undefined);
});

// freePort returns a loopback port nothing listens on (for now).
async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('connect callback backend unreachable: 4003, the page client backs off and gets in once the backend is up', async (t) => {
  const port = await freePort();
  const connectURL = `http://127.0.0.1:${port}/connect`;
  const gateway = await startWsgate(['-connect-url', connectURL, '-callback-timeout', '300ms']);
  setup.proxy.setTarget(gateway.address);
  let backend = null;
  t.after(async () => {
    await inPage('closeAll');
    setup.proxy.setTarget(setup.gateway.address);
    await gateway.stop();
    await new Promise((resolve) => (backend ? backend.close(resolve) : resolve()));
  });
  await inPage('create', 'ivan', fast);
  await until(10000, 'two refusals, each followed by a backoff', atLeast(2), 'count', 'ivan', 'reconnecting');
  const refused = (await inPage('log', 'ivan')).events.filter((event) => event.type === 'close');
  assert.ok(refused.length >= 2, `closes: ${JSON.stringify(refused)}`);
  for (const close of refused) {
    assert.deepEqual(close.detail, { code: 4003, reason: 'backend unavailable', willReconnect: true });
  }
  assert.equal(await inPage('count', 'ivan', 'welcome'), 0);

  // The backend comes up on the URL wsgate was given; the circuit breaker, open
  // after the failures, lets a probe through after its cooldown (5 s).
  const calls = [];
  backend = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk) => (body += chunk));
    request.on('end', () => {
      calls.push(JSON.parse(body));
      response.setHeader('Content-Type', 'application/json');
      response.end(JSON.stringify({ result: { user: 'ivan-from-backend' } }));
    });
  });
  await new Promise((resolve) => backend.listen(port, '127.0.0.1', resolve));
  const log = await until(20000, 'welcome once the backend answers', (value) => value.events.some((event) => event.type === 'welcome'), 'log', 'ivan');
  assert.equal(log.events.find((event) => event.type === 'welcome').detail.user_id, 'ivan-from-backend');
  assert.equal(await inPage('state', 'ivan'), 'open');
  assert.ok(calls.length >= 1 && calls[0].headers['User-Agent'].includes('HeadlessChrome'), `the backend got ${JSON.stringify(calls)}`);
  assert.equal(setup.browser.pageError(), undefined);
});
