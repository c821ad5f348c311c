// Compression (permessage-deflate) against a real wsgate run with -compression,
// through the test proxy, which counts the bytes the server sends: the client in
// Node with the `ws` package (which offers permessage-deflate by default) and in
// headless Chromium (which offers it by itself) receive broadcasts and channel
// publications of 1 KB and of 40 KB (over the 32 KB deflate window: nbio issue 444)
// intact, in fewer bytes than the messages' size, and their own 40 KB messages,
// which both compress, come back echoed.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';

import { WsgateClient } from '../src/index.js';
import { openPage, pageFiles } from './support/browser.js';
import { startProxy } from './support/proxy.js';
import { nextEvent, waitFor } from './support/wait.js';
import { startWsgate } from './support/wsgate.js';

const fast = { baseDelay: 50, maxDelay: 400, stableAfter: 1000, goingAwayDelay: 100, connectTimeout: 1000 };

// wordText returns size characters of random words and numbers: it compresses like
// JSON, with back references across the whole 32 KB window.
function wordText(size) {
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  let seed = size;
  const next = (range) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % range;
  };
  let text = '';
  while (text.length < size) {
    text += `${words[next(words.length)]}${next(1000)} `;
  }
  return text.slice(0, size);
}

const sizes = [1 << 10, 40 << 10];

const setup = {};

before(async () => {
  setup.gateway = await startWsgate(['-compression', '-ping-timeout', '2000ms']);
  setup.proxy = await startProxy(setup.gateway.address, pageFiles());
});

after(async () => {
  await setup.browser?.close();
  await setup.proxy?.close();
  await setup.gateway?.stop();
});

// api calls the HTTP API of the node (not through the proxy, which counts only what
// the WebSocket connections receive).
async function api(method, path, body) {
  const response = await fetch(`http://${setup.gateway.address}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.ok(response.ok, `${method} ${path}: ${response.status} ${await response.text()}`);
}

// sendAndMeasure runs send (a broadcast or a publication of text) and resolves, once
// received() is true, with the bytes the server sent meanwhile.
async function sendAndMeasure(send, received, what) {
  const before = setup.proxy.bytesToClients;
  await send();
  await waitFor(received, 5000, what);
  return setup.proxy.bytesToClients - before;
}

test('Node (ws): compressed broadcasts, publications and echoes of 1 KB and 40 KB', async (t) => {
  const client = new WsgateClient({ url: setup.proxy.url('?user_id=node'), WebSocket, ...fast });
  t.after(() => client.close());
  const messages = [];
  client.on('message', (message) => messages.push(message));
  const welcomed = nextEvent(client, 'welcome', 5000);
  client.connect();
  await welcomed;
  const publications = [];
  const subscription = client.subscribe('news', (publication) => publications.push(publication.data));
  await waitFor(() => subscription.state === 'subscribed', 5000, 'subscribed to news');

  for (const size of sizes) {
    const text = wordText(size);
    const count = messages.length;
    const broadcastBytes = await sendAndMeasure(() => api('POST', '/api/v1/broadcast', { message: { type: 'news', text } }),
      () => messages.length === count + 1, `the ${size}-byte broadcast`);
    assert.deepEqual(messages.at(-1), { type: 'news', text });
    assert.ok(broadcastBytes < size * 0.6, `a ${size}-byte broadcast took ${broadcastBytes} bytes: not compressed`);

    const publicationBytes = await sendAndMeasure(() => api('POST', '/api/v1/channels/news/publish', { data: text }),
      () => publications.length === sizes.indexOf(size) + 1, `the ${size}-byte publication`);
    assert.equal(publications.at(-1), text);
    assert.ok(publicationBytes < size * 0.6, `a ${size}-byte publication took ${publicationBytes} bytes: not compressed`);

    client.send({ type: 'message', content: text });
    await waitFor(() => messages.length === count + 2, 5000, `the echo of ${size} bytes`);
    assert.deepEqual(messages.at(-1), { type: 'message', content: text });
  }
});

test('Chromium: compressed broadcasts, publications and echoes of 1 KB and 40 KB', async (t) => {
  setup.browser = await openPage(setup.proxy.address);
  const inPage = (method, ...args) => setup.browser.inPage(method, ...args);
  t.after(() => inPage('closeAll'));
  await inPage('create', 'chromium', fast);
  await setup.browser.until(5000, 'welcome', (count) => count >= 1, 'count', 'chromium', 'welcome');
  await inPage('subscribe', 'chromium', 'news');
  await setup.browser.until(5000, 'subscribed', (entry) => entry.state === 'subscribed', 'subscription', 'chromium', 'news');

  for (const size of sizes) {
    const text = wordText(size);
    const { messages } = await inPage('log', 'chromium');
    const count = messages.length;
    const broadcastBytes = await sendAndMeasure(() => api('POST', '/api/v1/broadcast', { message: { type: 'news', text } }),
      async () => (await inPage('log', 'chromium')).messages.length === count + 1, `the ${size}-byte broadcast`);
    assert.deepEqual((await inPage('log', 'chromium')).messages.at(-1), { type: 'news', text });
    assert.ok(broadcastBytes < size * 0.6, `a ${size}-byte broadcast took ${broadcastBytes} bytes: not compressed`);

    const published = (await inPage('subscription', 'chromium', 'news')).publications.length;
    const publicationBytes = await sendAndMeasure(() => api('POST', '/api/v1/channels/news/publish', { data: text }),
      async () => (await inPage('subscription', 'chromium', 'news')).publications.length === published + 1,
      `the ${size}-byte publication`);
    assert.equal((await inPage('subscription', 'chromium', 'news')).publications.at(-1), text);
    assert.ok(publicationBytes < size * 0.6, `a ${size}-byte publication took ${publicationBytes} bytes: not compressed`);

    await inPage('send', 'chromium', { type: 'message', content: text });
    await setup.browser.until(5000, `the echo of ${size} bytes`, (log) => log.messages.length === count + 2, 'log', 'chromium');
    assert.deepEqual((await inPage('log', 'chromium')).messages.at(-1), { type: 'message', content: text });
  }
  assert.equal(setup.browser.pageError(), undefined);
});
