// Runs inside the Chromium page of browser.test.js: window.harness creates named
// clients of the real module and records their events for the test to read.
import { WsgateClient } from '/wsgate-client.js';

const clients = new Map();

window.harness = {
  // create starts a client on this page's origin; random, when a number, fixes the
  // jitter source; token, when given, is what getToken returns.
  create(name, { random, token, ...options } = {}) {
    const client = new WsgateClient({
      url: `ws://${location.host}/api/v1/ws`,
      ...options,
      ...(typeof random === 'number' ? { random: () => random } : {}),
      ...(typeof token === 'string' ? { getToken: async () => token } : {}),
    });
    const log = { events: [], messages: [] };
    for (const type of ['open', 'welcome', 'close', 'reconnecting', 'overflow', 'error']) {
      client.on(type, (detail) => log.events.push({ type, detail: detail instanceof Error ? String(detail) : detail, at: performance.now() }));
    }
    client.on('message', (message) => log.messages.push(message));
    clients.set(name, { client, log });
    client.connect();
  },
  send(name, message) {
    return clients.get(name).client.send(message);
  },
  state(name) {
    return clients.get(name).client.state;
  },
  log(name) {
    return clients.get(name).log;
  },
  count(name, type) {
    return clients.get(name).log.events.filter((event) => event.type === type).length;
  },
  close(name) {
    clients.get(name).client.close();
  },
  closeAll() {
    for (const { client } of clients.values()) {
      client.close();
    }
    clients.clear();
  },
};
