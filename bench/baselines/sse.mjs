// Bare node:http Server-Sent Events: GET /sse?channel=… streams; a publish writes one
// pre-built chunk to every subscriber. `sseSubscribers` is shared with e2e-bare.mjs.
import { channelSubscribers, channelsOf, serve } from './common.mjs';

/**
 * `accept(req, res)` answers GET /sse?channel=… with a stream (404 to other paths);
 * `send(channel, chunk)` writes one pre-built chunk to each subscriber of the channel.
 */
export function sseSubscribers() {
  const subscribers = channelSubscribers();
  return {
    accept(req, res) {
      if (!req.url.startsWith('/sse')) return res.writeHead(404).end();
      subscribers.add(channelsOf(req.url), res, req);
      res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' });
      res.write(': ready\n\n');
    },
    send(channel, chunk) {
      const set = subscribers.of(channel);
      if (set === undefined) return;
      for (const res of set) res.write(chunk);
    },
  };
}

/** The SSE event carrying `json` (one line of JSON text). */
export const sseEvent = (json) => Buffer.from(`event: message\ndata: ${json}\n\n`);

if (import.meta.main) {
  const sse = sseSubscribers();
  serve((channel, data) => sse.send(channel, sseEvent(JSON.stringify({ channel, data }))), sse.accept);
}
