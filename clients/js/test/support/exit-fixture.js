// A program for exit.test.js: it connects to argv[2], waits until the client is in
// state argv[3] ("open" after an echo, or "reconnecting"), calls close(), prints
// "closed <state> <timers>" (timers: how many timers Node still holds), and must then
// exit by itself: nothing of the client may keep Node alive.
import WebSocket from 'ws';

import { WsgateClient } from '../../src/index.js';

const [url, wanted] = process.argv.slice(2);
const client = new WsgateClient({ url, WebSocket, baseDelay: 50, maxDelay: 200 });
const finish = () => {
  client.close();
  const timers = process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;
  console.log(`closed ${client.state} ${timers}`);
};
if (wanted === 'open') {
  client.on('message', (message) => message.content === 'bye' && finish());
  client.send({ type: 'message', content: 'bye' });
} else {
  client.on('reconnecting', ({ attempt }) => attempt === 3 && finish());
}
client.connect();
