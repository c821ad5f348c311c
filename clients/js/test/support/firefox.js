// Headless Firefox (Debian's /usr/bin/firefox-esr, or FIREFOX_PATH) driven over
// WebDriver BiDi, Firefox's own remote protocol (JSON commands over a WebSocket):
// playwright-core drives only its own patched Firefox, not the stock one. Firefox
// starts on a fresh profile with --remote-debugging-port=0 and prints the port it
// chose, so no port is guessed.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { setTimeout as delay } from 'node:timers/promises';
import WebSocket from 'ws';

const FIREFOX = process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr';

// A command that has no answer within COMMAND_TIMEOUT ms fails the test instead of
// hanging it.
const COMMAND_TIMEOUT = 30000;

// launchFirefox starts headless Firefox and opens a BiDi session. The result has
// send(method, params) (resolves with the command's result, rejects with its error),
// on(method, listener) for events, openTab(viewport), and close(), which ends
// Firefox and removes its profile.
export async function launchFirefox() {
  const profile = mkdtempSync(join(tmpdir(), 'wsgate-firefox-'));
  const child = spawn(FIREFOX, ['--headless', '--no-remote', '--remote-debugging-port=0', '--profile', profile, 'about:blank'],
    { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, MOZ_HEADLESS: '1' } });
  const exited = new Promise((resolveExit) => child.once('exit', (code, signal) => resolveExit(code ?? signal)));
  const output = [];
  const lines = createInterface({ input: child.stderr });
  const cleanUp = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
    rmSync(profile, { recursive: true, force: true });
  };

  let socket;
  try {
    const url = await new Promise((resolveURL, reject) => {
      const timer = setTimeout(() => reject(new Error(`Firefox did not start its remote agent:\n${output.join('\n')}`)), 30000);
      lines.on('line', (line) => {
        output.push(line);
        const match = /WebDriver BiDi listening on (ws:\/\/\S+)/.exec(line);
        if (match) {
          clearTimeout(timer);
          resolveURL(match[1]);
        }
      });
      exited.then((code) => {
        clearTimeout(timer);
        reject(new Error(`Firefox exited with ${code}:\n${output.join('\n')}`));
      });
    });
    socket = new WebSocket(`${url}/session`);
    await new Promise((resolveOpen, reject) => {
      socket.once('open', resolveOpen);
      socket.once('error', reject);
    });
  } catch (error) {
    await cleanUp();
    throw error;
  }

  let nextID = 1;
  const pending = new Map();
  const listeners = new Map();
  socket.on('message', (data) => {
    const message = JSON.parse(data);
    if (message.type === 'event') {
      for (const listener of listeners.get(message.method) ?? []) listener(message.params);
      return;
    }
    const waiting = pending.get(message.id);
    if (!waiting) return;
    pending.delete(message.id);
    clearTimeout(waiting.timer);
    if (message.type === 'success') waiting.resolve(message.result);
    else waiting.reject(new Error(`${waiting.method}: ${message.error}: ${message.message}`));
  });
  socket.on('close', () => {
    for (const waiting of pending.values()) {
      clearTimeout(waiting.timer);
      waiting.reject(new Error(`${waiting.method}: the BiDi connection closed`));
    }
    pending.clear();
  });

  const send = (method, params = {}) => new Promise((resolveResult, reject) => {
    const id = nextID++;
    const timer = setTimeout(() => {
      pending.delete(id);
      reject(new Error(`${method}: no answer within ${COMMAND_TIMEOUT} ms`));
    }, COMMAND_TIMEOUT);
    pending.set(id, { method, resolve: resolveResult, reject, timer });
    socket.send(JSON.stringify({ id, method, params }));
  });
  const on = (method, listener) => {
    if (!listeners.has(method)) listeners.set(method, []);
    listeners.get(method).push(listener);
  };

  try {
    await send('session.new', { capabilities: {} });
  } catch (error) {
    socket.terminate();
    await cleanUp();
    throw error;
  }

  return {
    send,
    on,
    // openTab opens a tab with a viewport of { width, height } CSS pixels and
    // returns a tab: its context id, the script errors and the URLs of the
    // requests made in it (recorded from before its first navigation), goto(url),
    // and evaluate(expression), which resolves with the JSON value of expression
    // (awaited if a promise) or rejects with the exception it threw.
    async openTab(viewport) {
      const { context } = await send('browsingContext.create', { type: 'tab' });
      const tab = { context, errors: [], requests: [] };
      on('log.entryAdded', (entry) => {
        if (entry.source?.context === context && entry.level === 'error') tab.errors.push(entry.text);
      });
      on('network.beforeRequestSent', (event) => {
        if (event.context === context) tab.requests.push(event.request.url);
      });
      await send('session.subscribe', { events: ['log.entryAdded', 'network.beforeRequestSent'], contexts: [context] });
      await send('browsingContext.setViewport', { context, viewport });
      tab.goto = (url) => send('browsingContext.navigate', { context, url, wait: 'complete' });
      tab.evaluate = async (expression) => {
        const answer = await send('script.evaluate', {
          expression: `(async () => JSON.stringify(await (${expression})))()`,
          target: { context },
          awaitPromise: true,
        });
        if (answer.type === 'exception') {
          throw new Error(`in Firefox: ${answer.exceptionDetails.text}`);
        }
        const json = answer.result.value;
        return json === undefined ? undefined : JSON.parse(json);
      };
      tab.close = () => send('browsingContext.close', { context });
      return tab;
    },
    async close() {
      try {
        await send('browser.close');
      } catch {
        // Firefox may close the connection before it answers; cleanUp ends it anyway.
      }
      socket.terminate();
      await Promise.race([exited, delay(5000)]);
      await cleanUp();
    },
  };
}
