// Runs a real wsgate binary for tests: built once per test process (or taken from
// WSGATE_BINARY), started on a free loopback port with a fast heartbeat.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
let builtBinary = process.env.WSGATE_BINARY;

// PING_INTERVAL and PING_TIMEOUT are the heartbeat of every test server, in ms.
export const PING_INTERVAL = 300;
export const PING_TIMEOUT = 300;

function binary() {
  if (!builtBinary) {
    const directory = mkdtempSync(join(tmpdir(), 'wsgate-js-'));
    process.once('exit', () => rmSync(directory, { recursive: true, force: true }));
    const output = join(directory, 'wsgate');
    const build = spawnSync('go', ['build', '-o', output, './cmd/wsgate'], { cwd: repositoryRoot, stdio: 'inherit' });
    if (build.status !== 0) {
      throw new Error(`go build ./cmd/wsgate failed with status ${build.status}`);
    }
    builtBinary = output;
  }
  return builtBinary;
}

// startWsgate starts wsgate with extra flags and resolves once it listens. The result
// has address ("127.0.0.1:port"), stop(signal) (resolves with the exit code) and logs.
export async function startWsgate(extraFlags = []) {
  const flags = [
    '-addr', '127.0.0.1:0', '-insecure-user-id', '-log-format', 'json', '-shutdown-timeout', '2s',
    '-ping-interval', `${PING_INTERVAL}ms`, '-ping-timeout', `${PING_TIMEOUT}ms`, ...extraFlags,
  ];
  const child = spawn(binary(), flags, { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal)));
  const logs = [];
  const lines = createInterface({ input: child.stderr });
  const address = await new Promise((resolveAddress, reject) => {
    const timer = setTimeout(() => reject(new Error(`wsgate did not start: ${logs.join('\n')}`)), 10000);
    lines.on('line', (line) => {
      logs.push(line);
      const entry = JSON.parse(line);
      if (entry.msg === 'wsgate listening') {
        clearTimeout(timer);
        resolveAddress(entry.addr);
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`wsgate exited with ${code}: ${logs.join('\n')}`));
    });
  });
  return {
    address,
    logs,
    async stop(signal = 'SIGKILL') {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill(signal);
      }
      return exited;
    },
  };
}
