// close() leaves nothing behind: a Node process whose only work was a client exits by
// itself right after close(), whether the client was open or waiting to reconnect.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { startProxy } from './support/proxy.js';
import { startWsgate } from './support/wsgate.js';

const fixture = fileURLToPath(new URL('./support/exit-fixture.js', import.meta.url));

// runUntilExit runs the fixture and resolves with its exit code and how long it took to
// exit after printing "closed" (rejecting after 10 s).
function runUntilExit(url, wanted) {
  const child = spawn(process.execPath, [fixture, url, wanted], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the fixture (${wanted}) did not exit within 10 s`));
    }, 10000);
    let closedAt = null;
    let printed = '';
    createInterface({ input: child.stdout }).on('line', (line) => {
      printed = line;
      closedAt = Date.now();
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, printed, exitAfter: closedAt === null ? null : Date.now() - closedAt });
    });
  });
}

test('a process exits by itself after close() of an open client', async (t) => {
  const gateway = await startWsgate();
  const proxy = await startProxy(gateway.address);
  t.after(async () => {
    await proxy.close();
    await gateway.stop();
  });
  const { code, printed, exitAfter } = await runUntilExit(proxy.url(), 'open');
  assert.equal(code, 0);
  assert.match(printed, /^closed closed \d+$/);
  assert.ok(exitAfter < 2000, `exited ${exitAfter} ms after close()`);
});

// closedPort returns a loopback port that nothing listens on.
async function closedPort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

test('a process exits by itself after close() of a client waiting to reconnect', async () => {
  const url = `ws://127.0.0.1:${await closedPort()}/api/v1/ws`;
  const { code, printed, exitAfter } = await runUntilExit(url, 'reconnecting');
  assert.equal(code, 0);
  assert.equal(printed, 'closed closed 0', 'state closed and no timer left');
  assert.ok(exitAfter < 2000, `exited ${exitAfter} ms after close()`);
});
