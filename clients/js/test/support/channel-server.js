// A small WebSocket server that speaks wsgate's channel protocol (docs/protocol.md,
// "Channels") for the client's tests until the tests against a real wsgate run:
// subscribe, unsubscribe and publish with ids echoed, errors with channel and id,
// subscriptions the server makes by itself, and closes with any code.
import { startLocalServer } from './local-server.js';

// startChannelServer starts the server on a free loopback port. Options:
// - subscribe(channel, token, connection) returns undefined to accept a subscribe, or
//   the error code to refuse it with; default: accept.
// - publish(channel, data, connection) returns undefined to accept a publish (it goes
//   to every other subscriber of the channel), or the error code; default:
//   "publish_not_allowed".
// - ack: answer an accepted publish that has an id with {"type":"published"}.
// - onHello(connection): runs after the welcome, e.g. to subscribe the connection.
export async function startChannelServer(options = {}) {
  const decideSubscribe = options.subscribe ?? (() => undefined);
  const decidePublish = options.publish ?? (() => 'publish_not_allowed');
  const connections = [];
  const local = await startLocalServer((socket, request, index) => {
    const connection = { index, socket, channels: new Set(), received: [] };
    connections.push(connection);
    socket.on('message', (data) => {
      const message = JSON.parse(data.toString());
      connection.received.push(message);
      answer(connection, message);
    });
  });

  const send = (connection, message) => connection.socket.send(JSON.stringify(message));
  const refuse = (connection, message, code) => send(connection, {
    type: 'error', code, message: `refused: ${code}`, channel: message.channel, ...('id' in message ? { id: message.id } : {}),
  });
  const withId = (message, answer) => ('id' in message ? { ...answer, id: message.id } : answer);

  function answer(connection, message) {
    switch (message.type) {
      case 'hello':
        send(connection, { type: 'welcome', connection_id: `c${connection.index}`, user_id: null, ping_interval_ms: 0, ping_timeout_ms: 0 });
        options.onHello?.(connection);
        return;
      case 'subscribe': {
        if (connection.channels.has(message.channel)) {
          refuse(connection, message, 'already_subscribed');
          return;
        }
        const code = decideSubscribe(message.channel, message.token, connection);
        if (code !== undefined) {
          refuse(connection, message, code);
          return;
        }
        connection.channels.add(message.channel);
        send(connection, withId(message, { type: 'subscribed', channel: message.channel }));
        return;
      }
      case 'unsubscribe':
        if (!connection.channels.delete(message.channel)) {
          refuse(connection, message, 'not_subscribed');
          return;
        }
        send(connection, withId(message, { type: 'unsubscribed', channel: message.channel }));
        return;
      case 'publish': {
        const code = decidePublish(message.channel, message.data, connection);
        if (code !== undefined) {
          refuse(connection, message, code);
          return;
        }
        for (const other of connections) {
          if (other !== connection && other.channels.has(message.channel)) {
            send(other, { type: 'publication', channel: message.channel, data: message.data });
          }
        }
        if (options.ack && 'id' in message) {
          send(connection, { type: 'published', channel: message.channel, id: message.id });
        }
        return;
      }
      case 'message':
        send(connection, message);
        return;
      default:
    }
  }

  return {
    url: local.url,
    address: new URL(local.url).host,
    // connections lists every connection, in order: { index, socket, channels (a Set),
    // received (every message the client sent, decoded) }.
    connections,
    get latest() {
      return connections.at(-1);
    },
    // requests returns the client's messages of type on every connection, each with
    // the index of its connection.
    requests(type) {
      return connections.flatMap((connection) => connection.received.filter((message) => message.type === type).map((message) => ({ ...message, connection: connection.index })));
    },
    // publish sends a publication to every connection subscribed to channel and
    // returns how many got it.
    publish(channel, data) {
      const subscribed = connections.filter((connection) => connection.socket.readyState === 1 && connection.channels.has(channel));
      for (const connection of subscribed) {
        send(connection, { type: 'publication', channel, data });
      }
      return subscribed.length;
    },
    // send writes any message to connection, whatever it is subscribed to.
    send,
    // subscribe subscribes connection to channel by the server's own decision.
    subscribe(connection, channel, extra = {}) {
      connection.channels.add(channel);
      send(connection, { type: 'subscribed', channel, ...extra });
    },
    // unsubscribe removes connection's subscription to channel by the server's decision.
    unsubscribe(connection, channel, reason) {
      connection.channels.delete(channel);
      send(connection, { type: 'unsubscribed', channel, reason });
    },
    // closeAll closes every open connection with code and reason.
    closeAll(code, reason = '') {
      for (const connection of connections) {
        if (connection.socket.readyState === 1) {
          connection.socket.close(code, reason);
        }
      }
    },
    close: () => local.close(),
  };
}
