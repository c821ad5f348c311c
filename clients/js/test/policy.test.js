// The close-code table of docs/protocol.md and the backoff formula, as pure functions.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

import { CloseCode, backoffDelay, closePolicy } from '../src/index.js';

// The server's close-code table, generated from the Go source (protocol/closecodes.go)
// into the repository's protocol/closecodes.json; found by walking up from this file.
function readCloseCodes() {
  for (let directory = dirname(fileURLToPath(import.meta.url)); ; directory = dirname(directory)) {
    const candidate = join(directory, 'protocol', 'closecodes.json');
    if (existsSync(candidate)) {
      return JSON.parse(readFileSync(candidate, 'utf8'));
    }
    assert.notEqual(dirname(directory), directory, 'protocol/closecodes.json not found above the test');
  }
}

// The protocol's policy names and this client's names for them.
const policyNames = { terminal: 'stop', backoff: 'backoff', jitter: 'going-away', refresh_token: 'refresh' };

test('every close code of the server\'s table maps to its policy, and CloseCode names exactly those codes', () => {
  const table = readCloseCodes();
  assert.deepEqual(Object.keys(policyNames).sort(), [...table.policies].sort(), 'policies of closecodes.json');
  for (const { code, name, policy } of table.codes) {
    assert.equal(closePolicy(code), policyNames[policy], `close code ${code} (${name})`);
  }
  for (const { first, last, policy } of table.ranges) {
    for (const code of [first, last]) {
      assert.equal(closePolicy(code), policyNames[policy], `close code ${code} (range ${first}-${last})`);
    }
  }
  assert.equal(closePolicy(4500), policyNames[table.default_policy], 'a code outside the table and its ranges');
  assert.deepEqual(
    Object.values(CloseCode).sort((a, b) => a - b),
    [...new Set(table.codes.map(({ code }) => code))],
    'CloseCode values and the table\'s codes (a code sent for several reasons is listed once per reason)',
  );
});

test('every close code of the protocol maps to its policy', () => {
  const table = [
    [CloseCode.NORMAL, 'stop'],
    [CloseCode.GOING_AWAY, 'going-away'],
    [CloseCode.ABNORMAL, 'backoff'],
    [CloseCode.LIMIT, 'backoff'],
    [CloseCode.TOO_BIG, 'backoff'],
    [CloseCode.INTERNAL, 'backoff'],
    [CloseCode.TRY_AGAIN_LATER, 'backoff'],
    [CloseCode.HEARTBEAT_TIMEOUT, 'backoff'],
    [CloseCode.SLOW_CONSUMER, 'backoff'],
    [CloseCode.RATE_LIMITED, 'backoff'],
    [CloseCode.BACKEND_UNAVAILABLE, 'backoff'],
    [4099, 'backoff'],
    [CloseCode.TOKEN_EXPIRED, 'refresh'],
    [4199, 'refresh'],
    [4400, 'stop'],
    [CloseCode.UNAUTHORIZED, 'stop'],
    [CloseCode.KICKED, 'stop'],
    [4499, 'stop'],
    [4500, 'backoff'],
  ];
  for (const [code, policy] of table) {
    assert.equal(closePolicy(code), policy, `close code ${code}`);
  }
});

test('backoff ceiling doubles from the base up to the cap', () => {
  const almostOne = () => 1 - Number.EPSILON;
  const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 20, 1000].map((attempt) => Math.round(backoffDelay(attempt, 500, 30000, almostOne)));
  assert.deepEqual(ceilings, [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000, 30000]);
  assert.equal(backoffDelay(5, 500, 30000, () => 0), 0);
  assert.equal(backoffDelay(3, 500, 30000, () => 0.5), 1000);
});

test('full jitter spreads delays over [0, ceiling)', () => {
  const delays = Array.from({ length: 2000 }, () => backoffDelay(4, 500, 30000, Math.random));
  assert.ok(delays.every((delay) => delay >= 0 && delay < 4000));
  assert.ok(Math.min(...delays) < 400, 'some delays fall in the lowest tenth');
  assert.ok(Math.max(...delays) > 3600, 'some delays fall in the highest tenth');
});
