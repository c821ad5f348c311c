// Presence against a real wsgate process whose namespace "room" has presence and
// join_leave, in Node and in headless Chromium: join and leave per user, not per
// connection; presence pages walked with their cursor; the counts; the refusals.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';

import { ChannelError, WsgateClient } from '../src/index.js';
import { openPage, pageFiles } from './support/browser.js';
import { startProxy } from './support/proxy.js';
import { record, waitFor } from './support/wait.js';
import { startWsgate } from './support/wsgate.js';

const fast = { WebSocket, baseDelay: 50, maxDelay: 400, stableAfter: 1000, goingAwayDelay: 100, connectTimeout: 1000 };

// gatewayFor starts wsgate with the presence namespace and a steady heartbeat (see
// channels-wsgate.test.js), and stops it when the test ends.
async function gatewayFor(t) {
  const directory = mkdtempSync(join(tmpdir(), 'wsgate-presence-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const file = join(directory, 'wsgate.yaml');
  writeFileSync(file, ['namespaces:', '  - name: room', '    presence: true', '    join_leave: true', ''].join('\n'));
  const gateway = await startWsgate(['-ping-timeout', '2000ms', '-config', file]);
  t.after(() => gateway.stop());
  return gateway;
}

// connect starts a client of user that is closed when the test ends.
function connect(t, gateway, user) {
  const client = new WsgateClient({ url: `ws://${gateway.address}/api/v1/ws?user_id=${user}`, ...fast });
  t.after(() => client.close());
  client.connect();
  return client;
}

// join subscribes client to channel and records its presence events.
function subscribe(client, channel) {
  const subscription = client.subscribe(channel);
  const events = record(subscription, ['subscribed', 'join', 'leave', 'presence_diff', 'error']);
  const of = (...types) => events.filter((event) => types.includes(event.type)).map((event) => `${event.type} ${event.detail.user}`);
  return { subscription, of };
}

test('join and leave per user; presence pages and counts; refusals', async (t) => {
  const gateway = await gatewayFor(t);
  const ann = subscribe(connect(t, gateway, 'ann'), 'room:1');
  await waitFor(() => ann.of('join').length === 1, 5000, 'ann\'s own join');
  const bobFirst = connect(t, gateway, 'bob');
  subscribe(bobFirst, 'room:1');
  await waitFor(() => ann.of('join').length === 2, 5000, 'bob\'s join');
  const bobSecond = connect(t, gateway, 'bob');
  const second = subscribe(bobSecond, 'room:1');
  await waitFor(() => second.subscription.state === 'subscribed', 5000, 'bob\'s second connection subscribed');

  const stats = await ann.subscription.presenceStats();
  assert.deepEqual(stats, { type: 'presence_stats', channel: 'room:1', users: 2, connections: 3, id: stats.id });
  const first = await ann.subscription.presence({ limit: 1 });
  assert.equal(Object.keys(first.users).length, 1);
  assert.notEqual(first.cursor, '');
  assert.equal(first.total_users, 2);
  assert.equal(first.total_connections, 3);
  const last = await ann.subscription.presence({ limit: 1, cursor: first.cursor });
  assert.equal(last.cursor, '');
  assert.deepEqual({ ...first.users, ...last.users }, { ann: 1, bob: 2 });
  await assert.rejects(ann.subscription.presence({ cursor: '!' }), (error) => error instanceof ChannelError && error.code === 'invalid_cursor');

  bobFirst.close();
  await waitFor(async () => (await ann.subscription.presenceStats()).connections === 2, 5000, 'bob\'s first connection gone');
  assert.deepEqual(ann.of('join', 'leave'), ['join ann', 'join bob'], 'no leave while bob has a connection');
  bobSecond.close();
  await waitFor(() => ann.of('leave').length === 1, 5000, 'bob\'s leave');
  assert.deepEqual(ann.of('join', 'leave'), ['join ann', 'join bob', 'leave bob']);

  const plain = subscribe(connect(t, gateway, 'cy'), 'plain');
  await waitFor(() => plain.subscription.state === 'subscribed', 5000, 'cy subscribed');
  await assert.rejects(plain.subscription.presenceStats(), (error) => error instanceof ChannelError && error.code === 'presence_not_enabled');
});

test('in Chromium: join and leave, presence and its counts', async (t) => {
  const gateway = await gatewayFor(t);
  const proxy = await startProxy(gateway.address, pageFiles());
  t.after(() => proxy.close());
  const browser = await openPage(proxy.address);
  t.after(() => browser.close());
  // The page names its user, as a test server trusts ?user_id=: anonymous
  // connections are not present.
  const options = { url: `ws://${proxy.address}/api/v1/ws?user_id=page`, baseDelay: 50, maxDelay: 400, goingAwayDelay: 100, connectTimeout: 1000 };
  await browser.inPage('create', 'page', options);
  await browser.inPage('subscribe', 'page', 'room:web');
  const joined = (users) => (value) => value.events.filter((event) => event.type === 'join').length >= users;
  await browser.until(5000, 'the page\'s own join', joined(1), 'subscription', 'page', 'room:web');

  const other = subscribe(connect(t, gateway, 'node-user'), 'room:web');
  await waitFor(() => other.subscription.state === 'subscribed', 5000, 'the Node client subscribed');
  const seen = await browser.until(5000, 'the Node client\'s join', joined(2), 'subscription', 'page', 'room:web');
  assert.equal(seen.events.filter((event) => event.type === 'join')[1].detail.user, 'node-user');
  const stats = await browser.inPage('presence', 'page', 'room:web', {}, true);
  assert.equal(stats.users, 2);
  assert.equal(stats.connections, 2);
  const page = await browser.inPage('presence', 'page', 'room:web', { limit: 10 });
  assert.equal(page.users['node-user'], 1);
  assert.equal(page.cursor, '');

  other.subscription.unsubscribe();
  const left = await browser.until(5000, 'the leave', (value) => value.events.some((event) => event.type === 'leave'), 'subscription', 'page', 'room:web');
  assert.equal(left.events.find((event) => event.type === 'leave').detail.user, 'node-user');
  assert.equal(browser.pageError(), undefined);
});
