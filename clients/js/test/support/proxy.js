// A proxy for outage tests, the JavaScript twin of internal/tcpproxy: WebSocket
// upgrades are forwarded byte for byte to a target over TCP, and every forwarded
// connection can be cut, or frozen (nothing forwarded in either direction, nothing
// closed) and restored. Plain HTTP requests are answered from `files`, so a browser
// page and its WebSocket share one origin.
import { createServer } from 'node:http';
import { connect } from 'node:net';

// startProxy listens on a free loopback port. files maps a path ("/index.html") to
// { type, body }, or to a function of the request's URL that returns one (a backend
// endpoint, such as one that mints tokens).
export async function startProxy(target, files = {}) {
  let currentTarget = target;
  let frozen = false;
  const pairs = new Set();
  const upgrades = [];
  // bytesToClients counts the bytes forwarded from the target to the clients, the
  // upgrade answers included: what the server put on the wire.
  let bytesToClients = 0;

  const server = createServer((request, response) => {
    const url = new URL(request.url, 'http://proxy');
    const entry = files[url.pathname];
    const file = typeof entry === 'function' ? entry(url) : entry;
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });

  server.on('upgrade', (request, client, head) => {
    upgrades.push({ url: request.url, protocol: request.headers['sec-websocket-protocol'] ?? '' });
    const upstream = connect(Number(currentTarget.split(':').pop()), currentTarget.split(':')[0]);
    const pair = { client, upstream, held: [] };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    const forward = (from, to) => {
      from.on('data', (chunk) => {
        if (frozen) {
          pair.held.push([to, chunk]);
          from.pause();
          return;
        }
        if (from === upstream) {
          bytesToClients += chunk.length;
        }
        to.write(chunk);
      });
      from.on('close', drop);
      from.on('error', drop);
    };
    forward(client, upstream);
    forward(upstream, client);
    const lines = [`${request.method} ${request.url} HTTP/${request.httpVersion}`];
    for (let index = 0; index < request.rawHeaders.length; index += 2) {
      lines.push(`${request.rawHeaders[index]}: ${request.rawHeaders[index + 1]}`);
    }
    const requestHead = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`);
    if (frozen) {
      pair.held.push([upstream, requestHead], [upstream, head]);
      client.pause();
    } else {
      upstream.write(requestHead);
      upstream.write(head);
    }
  });

  await new Promise((resolveListen) => server.listen(0, '127.0.0.1', resolveListen));
  const { port } = server.address();

  return {
    address: `127.0.0.1:${port}`,
    // url returns the WebSocket endpoint through the proxy.
    url(query = '') {
      return `ws://127.0.0.1:${port}/api/v1/ws${query}`;
    },
    // upgrades lists the path and query and the Sec-WebSocket-Protocol header of every
    // upgrade request, in order.
    upgrades,
    // bytesToClients counts the bytes the target sent to every client so far.
    get bytesToClients() {
      return bytesToClients;
    },
    // connections counts forwarded WebSocket connections.
    get connections() {
      return pairs.size;
    },
    setTarget(address) {
      currentTarget = address;
    },
    // freeze stops forwarding in both directions; sockets stay open.
    freeze() {
      frozen = true;
    },
    // restore forwards what was held and resumes.
    restore() {
      frozen = false;
      for (const pair of pairs) {
        for (const [to, chunk] of pair.held) {
          to.write(chunk);
        }
        pair.held = [];
        pair.client.resume();
        pair.upstream.resume();
      }
    },
    // cut closes every forwarded connection at once.
    cut() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      pairs.clear();
    },
    async close() {
      this.restore();
      this.cut();
      server.closeAllConnections();
      await new Promise((resolveClose) => server.close(resolveClose));
    },
  };
}
