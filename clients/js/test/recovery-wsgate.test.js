// Recovery against a real wsgate process whose namespace "history" keeps 2,000
// publications and "short" 5, in Node and in headless Chromium: connections cut
// through the test proxy while 1,000 publications stream, after which the subscription
// has each exactly once, in order, with `recovery` events saying recovered; a history
// too short and a restarted wsgate (memory history lost), surfaced as
// recovered: false with the server's position.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import WebSocket from 'ws';

import { WsgateClient } from '../src/index.js';
import { openPage, pageFiles } from './support/browser.js';
import { startProxy } from './support/proxy.js';
import { record, waitFor } from './support/wait.js';
import { startWsgate } from './support/wsgate.js';

const fast = { baseDelay: 50, maxDelay: 400, stableAfter: 1000, goingAwayDelay: 100, connectTimeout: 1000 };
const TOTAL = 1000;
// CUTS are the numbers of publications made when the proxy cuts the connections.
const CUTS = [200, 550];

// historyFlags writes the configuration file of these tests and returns the flags
// that load it; the file is removed when the test ends.
function historyFlags(t) {
  const directory = mkdtempSync(join(tmpdir(), 'wsgate-recovery-'));
  t.after(() => rmSync(directory, { recursive: true, force: true }));
  const file = join(directory, 'wsgate.yaml');
  writeFileSync(file, [
    'namespaces:',
    '  - name: history',
    '    history_size: 2000',
    '    recover_max: 2000',
    '  - name: short',
    '    history_size: 5',
    '',
  ].join('\n'));
  return ['-config', file];
}

// gatewayFor starts wsgate with the history namespaces and stops it when the test
// ends; a test that restarts it replaces setup.gateway.
async function gatewayFor(t) {
  const flags = historyFlags(t);
  const setup = { flags, gateway: await startWsgate(flags) };
  t.after(() => setup.gateway.stop());
  return setup;
}

// publish publishes data to channel through the backend API.
async function publish(address, channel, data) {
  const response = await fetch(`http://${address}/api/v1/channels/${encodeURIComponent(channel)}/publish`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ data }),
  });
  assert.ok(response.ok, `publish ${data} to ${channel}: ${response.status} ${await response.text()}`);
}

// streamWithCuts publishes 1..TOTAL to channel one after the other and cuts every
// connection of proxy once CUTS[i] are made, so each cut falls while publications
// stream. Before each cut it waits until settled() (which may be async) says the
// client is connected and has recovered from every reconnect so far, so that each cut
// finds a live connection (on a loaded machine the heartbeat may drop one too). It
// resolves once all are published.
async function streamWithCuts(address, channel, proxy, settled) {
  for (let number = 1; number <= TOTAL; number++) {
    await publish(address, channel, number);
    if (CUTS.includes(number)) {
      await waitFor(settled, 10000, `the client settled before the cut at ${number}`);
      proxy.cut();
    }
  }
}

// assertRecoveries checks that every reconnect (each open after the first) was
// recovered, and that there were at least as many as cuts.
function assertRecoveries(recoveries, opens) {
  assert.ok(recoveries.length >= CUTS.length, `${recoveries.length} recoveries for ${CUTS.length} cuts`);
  assert.equal(recoveries.length, opens - 1, 'a recovery per reconnect');
  assert.deepEqual(recoveries.filter(({ recovered }) => !recovered), [], 'every recovery recovered');
}

// assertOnceInOrder checks that publications ([offset, data] pairs) are 1..TOTAL in
// order, each at the offset one above the one before.
function assertOnceInOrder(publications) {
  assert.equal(publications.length, TOTAL);
  publications.forEach(([offset, data], index) => {
    assert.equal(data, index + 1, `publication ${index + 1} is ${data}: a gap, a duplicate or out of order`);
    if (index > 0) {
      assert.equal(offset, publications[index - 1][0] + 1, `offset of publication ${index + 1}`);
    }
  });
}

// startClient connects a client through url that is closed when the test ends.
function startClient(t, url) {
  const client = new WsgateClient({ url, WebSocket, ...fast });
  t.after(() => client.close());
  const events = record(client, ['open', 'close', 'error']);
  client.connect();
  return { client, of: (type) => events.filter((event) => event.type === type).map((event) => event.detail) };
}

// subscribe subscribes client to channel and collects [offset, data] of each
// publication and the subscription's events.
function subscribe(client, channel) {
  const received = [];
  const subscription = client.subscribe(channel, (publication) => received.push([publication.offset, publication.data]));
  const events = record(subscription, ['subscribed', 'recovery', 'error']);
  return { subscription, received, of: (type) => events.filter((event) => event.type === type).map((event) => event.detail) };
}

test('connections cut while 1,000 publications stream: each arrives once, in order, and every recovery says recovered', async (t) => {
  const { gateway } = await gatewayFor(t);
  const proxy = await startProxy(gateway.address);
  t.after(() => proxy.close());
  const { client, of } = startClient(t, proxy.url('?user_id=ann'));
  const feed = subscribe(client, 'history:feed');
  await waitFor(() => feed.subscription.state === 'subscribed', 5000, 'subscribed');
  assert.notEqual(feed.subscription.position, null, 'a position in a channel with history');

  // settled: subscribed on the open connection, with a recovery for each reconnect.
  const settled = () => feed.subscription.state === 'subscribed' && feed.of('recovery').length === of('open').length - 1;
  await streamWithCuts(gateway.address, 'history:feed', proxy, settled);
  await waitFor(() => feed.received.length >= TOTAL && settled(), 20000, 'every publication');
  assertOnceInOrder(feed.received);
  assertRecoveries(feed.of('recovery'), of('open').length);
  assert.ok(feed.of('recovery').every(({ channel }) => channel === 'history:feed'));
  assert.equal(feed.subscription.position.offset, feed.received.at(-1)[0]);
  assert.deepEqual(feed.of('error'), []);
});

test('a history too short and a restarted wsgate: recovered false with the server\'s position, then live publications', async (t) => {
  const setup = await gatewayFor(t);
  const address = setup.gateway.address;
  const proxy = await startProxy(address);
  t.after(() => proxy.close());
  const { client, of } = startClient(t, proxy.url('?user_id=ann'));
  const short = subscribe(client, 'short:feed');
  await waitFor(() => short.subscription.state === 'subscribed', 5000, 'subscribed');
  await publish(address, 'short:feed', 1);
  await waitFor(() => short.received.length === 1, 5000, 'the first publication');
  const before = short.subscription.position;

  // Offline while ten publications are made: five more than the history keeps.
  proxy.setTarget('127.0.0.1:1');
  proxy.cut();
  await waitFor(() => of('close').length >= 2, 5000, 'a failed reconnect');
  for (let number = 2; number <= 11; number++) {
    await publish(address, 'short:feed', number);
  }
  proxy.setTarget(address);
  // notRecovered returns the recovery events that said recovered: false. Others may
  // come between: on a loaded machine the heartbeat may drop a connection too.
  const notRecovered = () => short.of('recovery').filter(({ recovered }) => !recovered);
  await waitFor(() => notRecovered().length === 1, 10000, 'the recovery event');
  const expected = { offset: before.offset + 10, epoch: before.epoch };
  assert.deepEqual(notRecovered(), [{ channel: 'short:feed', recovered: false, position: expected }]);
  await publish(address, 'short:feed', 12);
  await waitFor(() => short.received.length === 2, 5000, 'the next live publication');
  assert.deepEqual(short.received[1], [expected.offset + 1, 12]);

  // A restart loses the memory history: a new epoch.
  await setup.gateway.stop();
  setup.gateway = await startWsgate(['-addr', address, ...setup.flags]);
  await waitFor(() => notRecovered().length === 2, 10000, 'the recovery event after the restart');
  assert.notEqual(notRecovered()[1].position.epoch, before.epoch);
  assert.deepEqual(short.of('error'), []);
});

test('in Chromium: connections cut while 1,000 publications stream, each arrives once, in order, recovered', async (t) => {
  const { gateway } = await gatewayFor(t);
  const proxy = await startProxy(gateway.address, pageFiles());
  t.after(() => proxy.close());
  const browser = await openPage(proxy.address);
  t.after(() => browser.close());
  await browser.inPage('create', 'page', fast);
  await browser.inPage('subscribe', 'page', 'history:feed');
  const subscribed = await browser.until(5000, 'subscribed', (value) => value.state === 'subscribed', 'subscription', 'page', 'history:feed');
  assert.notEqual(subscribed.position, null);

  // state reads the subscription and the client's log in the page.
  const state = async () => {
    const subscription = await browser.inPage('subscription', 'page', 'history:feed');
    const opens = (await browser.inPage('log', 'page')).events.filter((event) => event.type === 'open').length;
    const recoveries = subscription.events.filter((event) => event.type === 'recovery').map((event) => event.detail);
    return { subscription, opens, recoveries, settled: subscription.state === 'subscribed' && recoveries.length === opens - 1 };
  };
  await streamWithCuts(gateway.address, 'history:feed', proxy, async () => (await state()).settled);
  // The checks read what the wait saw: the heartbeat may drop the connection again
  // right after.
  let seen;
  await waitFor(async () => {
    seen = await state();
    return seen.subscription.publications.length >= TOTAL && seen.settled;
  }, 20000, 'every publication');
  const { subscription, opens, recoveries } = seen;
  assertOnceInOrder(subscription.offsets.map((offset, index) => [offset, subscription.publications[index]]));
  assertRecoveries(recoveries, opens);
  assert.equal(browser.pageError(), undefined);
});
