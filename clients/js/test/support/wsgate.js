// Runs a real wsgate binary for tests: built once per test process (or taken from
// WSGATE_BINARY), started on a free loopback port with a fast heartbeat.
import { spawn, spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
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

// JWT_SECRET is the HS256 secret of servers started with { jwt: true }.
export const JWT_SECRET = 'wsgate-js-client-tests-0123456789abcdef';

// startWsgate starts wsgate with extra flags and resolves once it listens: trusting
// ?user_id=, or with `jwt` requiring tokens signed with JWT_SECRET (see mintToken).
// The result has address ("127.0.0.1:port"), stop(signal) (resolves with the exit
// code) and logs.
export async function startWsgate(extraFlags = [], { jwt = false } = {}) {
  const identity = jwt ? ['-jwt-secret', JWT_SECRET] : ['-insecure-user-id'];
  const flags = [
    '-addr', '127.0.0.1:0', ...identity, '-log-format', 'json', '-shutdown-timeout', '2s',
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
      // Not every line is a log entry: a configuration error is plain text.
      if (!line.startsWith('{')) {
        return;
      }
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

// mintToken returns an HS256 JWT for userID signed with JWT_SECRET, valid for ten
// minutes, with extra claims: { wsgate: {...} } for a connection token's grants,
// { channel } for a subscription token.
export function mintToken(userID, claims = {}) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const input = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode({ sub: userID, exp: Math.floor(Date.now() / 1000) + 600, ...claims })}`;
  return `${input}.${createHmac('sha256', JWT_SECRET).update(input).digest('base64url')}`;
}
