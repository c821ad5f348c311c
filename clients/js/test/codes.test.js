// Close codes that need authentication or a backend in wsgate (4100, 4401, 4403),
// sent by a tiny local WebSocket server: terminal codes end all attempts, token
// expiry fetches a fresh token.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';

import { WsgateClient } from '../src/index.js';
import { startLocalServer } from './support/local-server.js';
import { nextEvent, record } from './support/wait.js';

const fast = { WebSocket, baseDelay: 20, maxDelay: 100, stableAfter: 1000 };

for (const [code, reason] of [[4401, 'unauthorized'], [4403, 'kicked']]) {
  test(`terminal close ${code} (${reason}): no further attempts, and the reason is reported`, async (t) => {
    const server = await startLocalServer((socket) => socket.close(code, reason));
    t.after(() => server.close());
    const client = new WsgateClient({ url: server.url, ...fast });
    t.after(() => client.close());
    const events = record(client, ['close', 'reconnecting']);
    const closed = nextEvent(client, 'close', 5000);
    client.connect();
    assert.deepEqual(await closed, { code, reason, willReconnect: false });
    assert.equal(client.state, 'closed');
    // Only waiting can show that nothing happens: ten times the longest backoff.
    await delay(10 * fast.maxDelay);
    assert.equal(server.requests.length, 1, 'connections after a terminal close');
    assert.deepEqual(events.map((event) => event.type), ['close']);
  });
}

test('token expired (4100): the client asks for a fresh token and reconnects with it', async (t) => {
  const server = await startLocalServer((socket, request, index) => {
    if (server.protocols[index].includes('bearer.stale')) {
      socket.close(4100, 'token expired');
      return;
    }
    socket.on('message', (data) => socket.send(data.toString()));
  });
  t.after(() => server.close());
  const tokens = ['stale', 'fresh'];
  const client = new WsgateClient({ url: server.url, ...fast, hello: false, getToken: async () => tokens.shift() });
  t.after(() => client.close());
  const expired = nextEvent(client, 'close', 5000);
  client.connect();
  assert.deepEqual(await expired, { code: 4100, reason: 'token expired', willReconnect: true });
  await nextEvent(client, 'open', 5000);
  const echoed = nextEvent(client, 'message', 5000);
  client.send({ type: 'message', content: 'with a fresh token' });
  assert.deepEqual(await echoed, { type: 'message', content: 'with a fresh token' });
  assert.deepEqual(server.requests, ['/api/v1/ws', '/api/v1/ws'], 'no token in the URL');
  assert.deepEqual(server.protocols, [['wsgate.v1', 'bearer.stale'], ['wsgate.v1', 'bearer.fresh']]);
  assert.equal(tokens.length, 0);
});
