// wsgate's dashboard in headless Firefox (support/firefox.js, WebDriver BiDi) against a
// real wsgate: the page loads without a script error, its numbers match the stats
// endpoint after 20 clients connect and 5 leave, a chart has points, every request
// goes to the node, and the page fits a phone's width. A smaller run of what
// dashboard.test.js checks in Chromium.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { launchFirefox } from './support/firefox.js';
import { waitFor } from './support/wait.js';
import { startWsgate } from './support/wsgate.js';

const setup = { clients: [] };

before(async () => {
  setup.firefox = await launchFirefox();
  // A heartbeat slower than the suite's, as in dashboard.test.js.
  setup.gateway = await startWsgate(['-ping-interval', '1s', '-ping-timeout', '10s']);
});

after(async () => {
  for (const client of setup.clients) client.terminate();
  await setup.firefox?.close();
  await setup.gateway?.stop();
});

// connect opens a WebSocket client of userID that answers the heartbeat and
// resolves once welcomed, with a promise of its close.
async function connect(address, userID) {
  const ws = new WebSocket(`ws://${address}/api/v1/ws?user_id=${encodeURIComponent(userID)}`);
  setup.clients.push(ws);
  ws.closed = new Promise((resolveClose) => ws.once('close', resolveClose));
  await new Promise((resolveWelcome, reject) => {
    ws.once('error', reject);
    ws.on('message', (data) => {
      const message = JSON.parse(data);
      if (message.type === 'ping') ws.send('{"type":"pong"}');
      if (message.type === 'welcome') resolveWelcome();
    });
    ws.once('open', () => ws.send('{"type":"hello"}'));
  });
  return ws;
}

async function stats(address) {
  const response = await fetch(`http://${address}/api/v1/ws/stats`);
  assert.equal(response.status, 200);
  return response.json();
}

// openDashboard opens the node's dashboard in a new Firefox tab of viewport's size
// and waits until the page is live.
async function openDashboard(viewport) {
  const tab = await setup.firefox.openTab(viewport);
  await tab.goto(`http://${setup.gateway.address}/dashboard`);
  await waitFor(() => tab.evaluate(`document.querySelector('#status')?.dataset.state === 'live'`), 10000, 'the page to be live');
  return tab;
}

const shownCount = (tab, selector) => tab.evaluate(`Number(document.querySelector('${selector}').textContent.replaceAll(',', ''))`);

test('in Firefox the page loads without errors, its numbers match stats after 20 connect and 5 leave, a chart has points', async () => {
  const { address } = setup.gateway;
  const tab = await openDashboard({ width: 1280, height: 1000 });

  const clients = [];
  for (let index = 0; index < 20; index++) {
    clients.push(await connect(address, `user-${index % 10}`));
  }
  for (const client of clients.slice(0, 5)) {
    client.close(1000);
    await client.closed;
  }
  let expected;
  await waitFor(async () => {
    expected = await stats(address);
    return expected.total_connections === 15 && (await shownCount(tab, '#now-connections')) === 15
      && (await shownCount(tab, '#now-users')) === expected.total_users;
  }, 10000, 'the page to show the 15 connections and the users of stats');
  assert.equal(expected.total_users, 10);
  await waitFor(async () => (await tab.evaluate(`document.querySelector('#disconnect-reasons').textContent`)).includes('client_close 5'),
    5000, 'the disconnects by reason');

  // uPlot holds one point a second, and the canvas shows them.
  await waitFor(() => tab.evaluate(`window.wsgateDashboard.charts['chart-connections'].data[0].length >= 3`), 10000, 'three seconds of points');
  const drawn = await tab.evaluate(`(() => {
    const canvas = document.querySelector('#chart-connections canvas');
    const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
    let painted = 0;
    for (let index = 3; index < pixels.length; index += 4) if (pixels[index] !== 0) painted++;
    return { points: window.wsgateDashboard.charts['chart-connections'].data[1].filter((value) => value === 15).length, painted };
  })()`);
  assert.ok(drawn.points >= 1 && drawn.painted > 1000, `chart: ${JSON.stringify(drawn)}`);

  const origin = `http://${address}/`;
  assert.ok(tab.requests.length > 0, 'no request recorded');
  // Firefox reports the page's empty icon (<link rel="icon" href="data:,">), which
  // leaves nothing: a data: URL is its own content.
  assert.deepEqual(tab.requests.filter((url) => !url.startsWith(origin) && url !== 'data:,'), [], 'requests outside the node');
  assert.deepEqual(tab.errors, []);
  await tab.close();
});

test('in Firefox on a phone-sized screen the page fits the width', async () => {
  const tab = await openDashboard({ width: 390, height: 844 });
  await waitFor(() => tab.evaluate('window.wsgateDashboard.latest() !== null'), 5000, 'a sample');
  const widths = await tab.evaluate('({ page: document.documentElement.scrollWidth, screen: window.innerWidth })');
  assert.equal(widths.screen, 390);
  assert.ok(widths.page <= widths.screen, `the page is ${widths.page} px wide on a ${widths.screen} px screen`);
  assert.deepEqual(tab.errors, []);
  await tab.close();
});
