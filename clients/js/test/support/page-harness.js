// Runs inside the Chromium page of browser.test.js: window.harness creates named
// clients of the real module and records their events for the test to read.
import { WsgateClient } from '/wsgate/index.js';

const clients = new Map();
const subscriptions = new Map();

// describe makes an event detail fit to leave the page: errors become plain objects.
const describe = (detail) => (detail instanceof Error ? { name: detail.name, message: detail.message, code: detail.code, channel: detail.channel, id: detail.id } : detail);

window.harness = {
  // create starts a client on this page's origin; random, when a number, fixes the
  // jitter source; token, when given, is what getToken returns. The publications of
  // the server's own subscriptions are logged in `caught`.
  create(name, { random, token, ...options } = {}) {
    const log = { events: [], messages: [], caught: [] };
    const client = new WsgateClient({
      url: `ws://${location.host}/api/v1/ws`,
      onPublication: (publication) => log.caught.push(publication),
      ...options,
      ...(typeof random === 'number' ? { random: () => random } : {}),
      ...(typeof token === 'string' ? { getToken: async () => token } : {}),
    });
    for (const type of ['open', 'welcome', 'close', 'reconnecting', 'overflow', 'error', 'subscribed', 'unsubscribed']) {
      client.on(type, (detail) => log.events.push({ type, detail: describe(detail), at: performance.now() }));
    }
    client.on('message', (message) => log.messages.push(message));
    clients.set(name, { client, log });
    client.connect();
  },
  send(name, message) {
    return clients.get(name).client.send(message);
  },
  // subscribe subscribes client name to channel, recording its events (`recovery`
  // too) and the data and offset of each publication; with tokenPath, each subscribe first
  // fetches its token from that path of this origin (?channel=<channel>), as a page
  // asks its backend.
  subscribe(name, channel, { tokenPath } = {}) {
    const entry = { events: [], publications: [], offsets: [] };
    const getToken = async (wanted) => {
      const response = await fetch(`${tokenPath}?channel=${encodeURIComponent(wanted)}`);
      if (!response.ok) {
        throw new Error(`token endpoint answered ${response.status}`);
      }
      return response.text();
    };
    const handler = (publication) => {
      entry.publications.push(publication.data);
      entry.offsets.push(publication.offset);
    };
    const subscription = clients.get(name).client.subscribe(channel, handler, tokenPath ? { getToken } : {});
    for (const type of ['subscribed', 'recovery', 'error', 'unsubscribed', 'join', 'leave', 'presence_diff']) {
      subscription.on(type, (detail) => entry.events.push({ type, detail: describe(detail) }));
    }
    subscriptions.set(`${name}/${channel}`, { subscription, entry });
  },
  // subscription returns the state, position, events, and the data and offsets of the
  // publications of a subscription.
  subscription(name, channel) {
    const { subscription, entry } = subscriptions.get(`${name}/${channel}`);
    return { state: subscription.state, position: subscription.position, ...entry };
  },
  // presence resolves with a page of the subscription's channel's presence (or
  // presenceStats' counts when stats is true), or with the error, described.
  presence(name, channel, options, stats = false) {
    const { subscription } = subscriptions.get(`${name}/${channel}`);
    const query = stats ? subscription.presenceStats() : subscription.presence(options);
    return query.then((answer) => answer, (error) => describe(error));
  },
  unsubscribe(name, channel) {
    subscriptions.get(`${name}/${channel}`).subscription.unsubscribe();
  },
  // publish resolves with "written" once the publication went out, or with the error.
  publish(name, channel, data) {
    return clients.get(name).client.publish(channel, data).then(() => 'written', (error) => describe(error));
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
    subscriptions.clear();
  },
};
