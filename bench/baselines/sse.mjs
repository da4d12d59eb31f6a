// Bare node:http Server-Sent Events: GET /sse?channel=… streams; a publish writes one
// pre-built chunk to every subscriber.
import { channelsOf, serve } from './common.mjs';

const subscribers = new Map();
serve(
  (channel, data) => {
    const set = subscribers.get(channel);
    if (set === undefined) return;
    const chunk = Buffer.from(`event: message\ndata: ${JSON.stringify({ channel, data })}\n\n`);
    for (const res of set) res.write(chunk);
  },
  (req, res) => {
    if (!req.url.startsWith('/sse')) return res.writeHead(404).end();
    const channels = channelsOf(req.url);
    for (const c of channels) {
      let set = subscribers.get(c);
      if (set === undefined) subscribers.set(c, (set = new Set()));
      set.add(res);
    }
    req.on('close', () => channels.forEach((c) => subscribers.get(c)?.delete(res)));
    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
    res.write(': ready\n\n');
  },
);
