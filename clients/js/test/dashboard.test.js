// wsgate's dashboard (package dashboard, served at /dashboard) in headless Chromium
// against a real wsgate: the numbers match the stats endpoint after 50 clients
// connect and 10 leave, the charts have points, every request goes to the node,
// a kick from the page (after its confirmation) closes the connection with 4403,
// the page fits a phone's width, and with an API key the page asks for it, refuses
// a wrong one and keeps the right one for the tab only, never in a URL, a cookie or
// the log. With DASHBOARD_SCREENSHOT=path (relative to the repository's root) the
// first test saves a screenshot there: the README's is docs/dashboard.png.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import WebSocket from 'ws';

import { waitFor } from './support/wait.js';
import { startWsgate } from './support/wsgate.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const KEY = 'dashboard-browser-test-key-0123456789';

const setup = { clients: [] };

before(async () => {
  setup.browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync'],
  });
  // A heartbeat slower than the suite's: 50 clients in one busy Node process may
  // answer a ping later than the suite's 300 ms timeout.
  setup.gateway = await startWsgate(['-ping-interval', '1s', '-ping-timeout', '10s']);
});

after(async () => {
  for (const client of setup.clients) client.ws.terminate();
  await setup.browser?.close();
  await setup.gateway?.stop();
});

// connect opens a WebSocket client of userID that answers the heartbeat and
// resolves once welcomed, with its connection id and a promise of its close.
async function connect(address, userID) {
  const ws = new WebSocket(`ws://${address}/api/v1/ws?user_id=${encodeURIComponent(userID)}`);
  const closed = new Promise((resolveClose) => ws.once('close', (code) => resolveClose(code)));
  const id = await new Promise((resolveID, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const message = JSON.parse(data);
      if (message.type === 'ping') ws.send('{"type":"pong"}');
      if (message.type === 'welcome') resolveID(message.connection_id);
    });
    ws.once('open', () => ws.send('{"type":"hello"}'));
  });
  const client = { ws, id, userID, closed };
  setup.clients.push(client);
  return client;
}

// openDashboard opens the dashboard of the node at address in a fresh context
// (its own sessionStorage and cookies) and records every request the page makes.
async function openDashboard(address, viewport = { width: 1280, height: 1000 }) {
  const context = await setup.browser.newContext({ viewport });
  const page = await context.newPage();
  const requests = [];
  const errors = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('pageerror', (error) => errors.push(error.message));
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  await page.goto(`http://${address}/dashboard`);
  return { context, page, requests, errors };
}

async function stats(address, headers = {}) {
  const response = await fetch(`http://${address}/api/v1/ws/stats`, { headers });
  assert.equal(response.status, 200);
  return response.json();
}

const text = (page, selector) => page.locator(selector).textContent();
const count = (shown) => Number(shown.replaceAll(',', ''));

test('the page shows the node live: numbers match stats after 50 connect and 10 leave, charts have points, nothing from elsewhere', async () => {
  const { address } = setup.gateway;
  const { context, page, requests, errors } = await openDashboard(address);
  setup.page = page;
  setup.context = context;
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10000 });

  const clients = [];
  for (let index = 0; index < 50; index++) {
    clients.push(await connect(address, `user-${index % 20}`));
  }
  for (const client of clients.slice(0, 10)) {
    client.ws.close(1000);
    await client.closed;
  }
  for (const client of clients.slice(10, 15)) {
    client.ws.send(JSON.stringify({ type: 'broadcast', content: 'hello' }));
  }
  for (const [index, client] of clients.slice(10).entries()) {
    client.ws.send(JSON.stringify({ type: 'subscribe', channel: 'news' }));
    if (index % 4 === 0) client.ws.send(JSON.stringify({ type: 'subscribe', channel: 'chat:lobby' }));
  }
  let expected;
  await waitFor(async () => {
    expected = await stats(address);
    const shown = { connections: count(await text(page, '#now-connections')), users: count(await text(page, '#now-users')) };
    return expected.total_connections === 40 && shown.connections === 40 && shown.users === expected.total_users;
  }, 10000, 'the page to show the 40 connections and the users of stats');
  assert.equal(expected.total_users, 20);
  await waitFor(async () => (await text(page, '#disconnect-reasons')).includes('client_close 10'), 5000, 'the disconnects by reason');

  // The charts: uPlot holds one point a second, and the canvas shows them.
  await waitFor(() => page.evaluate(() => window.wsgateDashboard.charts['chart-connections'].data[0].length >= 3), 10000, 'three seconds of points');
  const drawn = await page.evaluate(() => {
    const canvas = document.querySelector('#chart-connections canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let index = 3; index < pixels.length; index += 4) if (pixels[index] !== 0) painted++;
    return { points: window.wsgateDashboard.charts['chart-connections'].data[1].filter((value) => value === 40).length, painted };
  });
  assert.ok(drawn.points >= 1 && drawn.painted > 1000, `chart: ${JSON.stringify(drawn)}`);
  const topUser = await page.locator('#top-users tbody tr').first().locator('td').last().textContent();
  assert.equal(topUser, '2');
  assert.equal(await page.locator('#nodes tbody tr').count(), 1);
  await waitFor(async () => (await page.locator('#channels tbody tr').allTextContents()).join('|') === 'news4020|chat:lobby105',
    5000, 'the channels news (40 subscribers of 20 users) and chat:lobby (10 of 5)');

  if (process.env.DASHBOARD_SCREENSHOT) {
    const path = resolve(fileURLToPath(new URL('../../../', import.meta.url)), process.env.DASHBOARD_SCREENSHOT);
    mkdirSync(dirname(path), { recursive: true });
    await waitFor(() => page.evaluate(() => window.wsgateDashboard.latest()?.values.some((value, index) => index >= 16 && value !== null)), 5000, 'a ping latency');
    await page.screenshot({ path, fullPage: true });
  }

  const origin = `http://${address}/`;
  assert.deepEqual(requests.filter((url) => !url.startsWith(origin)), [], 'requests outside the node');
  assert.deepEqual(errors, []);
});

test('a kick from the page, once confirmed, closes the connection with 4403', async () => {
  const { page } = setup;
  const targets = setup.clients.filter((client) => client.userID === 'user-7' && client.ws.readyState === WebSocket.OPEN);
  assert.equal(targets.length, 2);
  await page.locator('#search-input').fill('user-7');
  await page.locator('#search-form button').click();
  await waitFor(async () => (await page.locator('#search-results tbody tr').count()) === 2, 5000, 'two connections of user-7');
  const row = page.locator('#search-results tbody tr').first();
  const id = await row.locator('td').first().textContent();
  const target = targets.find((client) => client.id === id);
  assert.ok(target, `the page lists ${id}, not a connection of user-7`);

  // Dismissed: nothing happens.
  const dismissed = page.waitForEvent('dialog').then((dialog) => {
    assert.match(dialog.message(), new RegExp(`Kick connection ${id}`));
    return dialog.dismiss();
  });
  await row.locator('button.kick').click();
  await dismissed;
  assert.equal(target.ws.readyState, WebSocket.OPEN);
  assert.doesNotMatch(await text(page, '#search-status'), /kicked/);

  const accepted = page.waitForEvent('dialog').then((dialog) => dialog.accept());
  await row.locator('button.kick').click();
  await accepted;
  assert.equal(await target.closed, 4403);
  await waitFor(async () => (await text(page, '#search-status')) === '1 connection', 5000, 'the search to show the one left');
  assert.equal(targets.find((client) => client !== target).ws.readyState, WebSocket.OPEN);
});

test('on a phone-sized screen the page fits the width', async () => {
  const { context, page } = await openDashboard(setup.gateway.address, { width: 390, height: 844 });
  try {
    await page.locator('#status[data-state="live"]').waitFor({ timeout: 10000 });
    await waitFor(() => page.evaluate(() => window.wsgateDashboard.latest() !== null), 5000, 'a sample');
    const widths = await page.evaluate(() => ({ page: document.documentElement.scrollWidth, screen: window.innerWidth }));
    assert.ok(widths.page <= widths.screen, `the page is ${widths.page} px wide on a ${widths.screen} px screen`);
  } finally {
    await context.close();
  }
});

test('with an API key the page asks for it, refuses a wrong one, and keeps the right one for the tab only', async (t) => {
  const keyed = await startWsgate(['-api-key', KEY, '-log-level', 'debug', '-ping-interval', '1s', '-ping-timeout', '10s']);
  t.after(() => keyed.stop());
  const { context, page, requests, errors } = await openDashboard(keyed.address);
  t.after(() => context.close());
  await page.locator('#key-form').waitFor({ state: 'visible', timeout: 10000 });
  assert.equal(await page.locator('#board').isVisible(), false);

  await page.locator('#key-input').fill('not-the-key');
  await page.locator('#key-form button').click();
  await waitFor(async () => (await text(page, '#key-error')) === 'That key was refused.', 5000, 'the wrong key to be refused');
  assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  assert.equal(await page.locator('#board').isVisible(), false);

  await page.locator('#key-input').fill(KEY);
  await page.locator('#key-form button').click();
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#key-form').isVisible(), false);
  assert.equal(await page.evaluate(() => sessionStorage.getItem('wsgate.dashboard.key')), KEY);
  const client = await connect(keyed.address, 'yuki');
  await waitFor(async () => count(await text(page, '#now-connections')) === 1, 5000, 'the connection on the page');

  // Kept for the tab: a reload does not ask again.
  await page.reload();
  await page.locator('#status[data-state="live"]').waitFor({ timeout: 10000 });
  assert.equal(await page.locator('#key-form').isVisible(), false);
  // And the kick sends it too.
  await page.locator('#search-input').fill(client.id);
  await page.locator('#search-form button').click();
  await waitFor(async () => (await page.locator('#search-results tbody tr').count()) === 1, 5000, 'the connection found by id');
  page.once('dialog', (dialog) => dialog.accept());
  await page.locator('#search-results button.kick').click();
  assert.equal(await client.closed, 4403);

  // A new tab (a fresh context) asks again.
  const other = await openDashboard(keyed.address);
  t.after(() => other.context.close());
  await other.page.locator('#key-form').waitFor({ state: 'visible', timeout: 10000 });

  assert.deepEqual(await context.cookies(), []);
  assert.deepEqual(requests.filter((url) => url.includes(KEY) || url.includes('not-the-key')), []);
  const logs = keyed.logs.join('\n');
  assert.ok(logs.includes('dashboard viewer connected'), 'the debug log shows the viewer');
  assert.ok(!logs.includes(KEY) && !logs.includes('not-the-key'), 'a key reached the log');
  // The only errors are the browser's reports of the refused requests (401).
  assert.deepEqual(errors.filter((error) => !error.includes('401')), []);
});
