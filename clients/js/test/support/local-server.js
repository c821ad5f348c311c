// A tiny WebSocket server for close codes that wsgate only sends in deployments with
// authentication or a backend (4100, 4401, 4403): behave(socket, request, index) decides
// what each connection gets.
import { WebSocketServer } from 'ws';

export async function startLocalServer(behave) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const requests = [];
  const protocols = [];
  server.on('connection', (socket, request) => {
    requests.push(request.url);
    protocols.push((request.headers['sec-websocket-protocol'] ?? '').split(',').map((value) => value.trim()).filter(Boolean));
    behave(socket, request, requests.length - 1);
  });
  return {
    url: `ws://127.0.0.1:${server.address().port}/api/v1/ws`,
    // requests lists the request path and query of every connection, in order.
    requests,
    // protocols lists the subprotocols each connection offered, in order.
    protocols,
    async close() {
      for (const socket of server.clients) {
        socket.terminate();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
