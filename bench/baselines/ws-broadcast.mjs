// Bare `ws` broadcast server: GET /ws?channel=… subscribes; a publish builds the frame
// once and sends it to every subscriber of the channel. `wsSubscribers` is shared with
// e2e-bare.mjs.
import { WebSocketServer } from 'ws';
import { channelSubscribers, channelsOf, serve } from './common.mjs';

/** Accepts GET /ws?channel=… on `server`; returns `send(channel, frame)`, one pre-built frame to each subscriber. */
export function wsSubscribers(server) {
  const subscribers = channelSubscribers();
  const wss = new WebSocketServer({ server, path: '/ws' });
  wss.on('connection', (ws, req) => {
    subscribers.add(channelsOf(req.url), ws, ws);
    ws.on('error', () => undefined);
    ws.send('{"ready":true}');
  });
  return (channel, frame) => {
    const set = subscribers.of(channel);
    if (set === undefined) return;
    for (const ws of set) ws.send(frame);
  };
}

if (import.meta.main) {
  let send;
  const server = serve((channel, data) => send(channel, Buffer.from(JSON.stringify({ channel, data }))));
  send = wsSubscribers(server);
}
