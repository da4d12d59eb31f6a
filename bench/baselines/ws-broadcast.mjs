// Bare `ws` broadcast server: GET /ws?channel=… subscribes; a publish builds the frame
// once and sends it to every subscriber of the channel.
import { WebSocketServer } from 'ws';
import { channelsOf, serve } from './common.mjs';

const subscribers = new Map();
const server = serve((channel, data) => {
  const set = subscribers.get(channel);
  if (set === undefined) return;
  const frame = Buffer.from(JSON.stringify({ channel, data }));
  for (const ws of set) ws.send(frame);
});
const wss = new WebSocketServer({ server, path: '/ws' });
wss.on('connection', (ws, req) => {
  const channels = channelsOf(req.url);
  for (const c of channels) {
    let set = subscribers.get(c);
    if (set === undefined) subscribers.set(c, (set = new Set()));
    set.add(ws);
  }
  ws.on('close', () => channels.forEach((c) => subscribers.get(c)?.delete(ws)));
  ws.on('error', () => undefined);
  ws.send('{"ready":true}');
});
