// Shared by the bare baselines: a POST /publish endpoint and the listening socket. Each
// baseline is the least a hand-written server for its transport does: no auth, no
// history beyond what the transport needs, one encoded frame per broadcast.
import { createServer } from 'node:http';

/** The request's body, whole. */
export function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export async function readJson(req) {
  return JSON.parse((await readBody(req)).toString('utf8'));
}

/**
 * An HTTP server whose POST /publish calls `publish(channel, data)` (answered once the promise
 * it may return has resolved); other requests go to `handler`.
 */
export function serve(publish, handler = (req, res) => res.writeHead(404).end()) {
  const server = createServer(async (req, res) => {
    if (req.method === 'POST' && req.url === '/publish') {
      try {
        const { channel, data } = await readJson(req);
        const stored = publish(channel, data);
        if (stored !== undefined) await stored;
        res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"ok":true}');
      } catch {
        res.writeHead(400).end();
      }
      return;
    }
    if (req.url === '/healthz') {
      res.writeHead(200).end('ok');
      return;
    }
    handler(req, res);
  });
  server.keepAliveTimeout = 60_000;
  // The bench stops a profiled server with SIGTERM: exit normally so --cpu-prof writes its profile.
  process.on('SIGTERM', () => process.exit(0));
  server.listen(Number(process.env.PORT), process.env.HOST ?? '127.0.0.1');
  return server;
}

/** `?channel=a&channel=b` of a request URL. */
export function channelsOf(url) {
  return new URL(url, 'http://x').searchParams.getAll('channel');
}

/**
 * Subscribers by channel: `add(channels, sink, closing)` puts `sink` in each channel's set
 * until `closing` emits 'close'; `of(channel)` is the channel's set (undefined: none).
 */
export function channelSubscribers() {
  const byChannel = new Map();
  return {
    add(channels, sink, closing) {
      for (const c of channels) {
        let set = byChannel.get(c);
        if (set === undefined) byChannel.set(c, (set = new Set()));
        set.add(sink);
      }
      closing.on('close', () => channels.forEach((c) => byChannel.get(c)?.delete(sink)));
    },
    of: (channel) => byChannel.get(channel),
  };
}
