import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export type RawHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/**
 * Serves the gateway's hot HTTP routes (`/v1/poll`, `/v1/sse`) on the Node server itself,
 * ahead of Express: a long-poll client makes one request per message, and Express's
 * router cost a sixth of the gateway's CPU there (bench/, docs/BENCHMARKS.md). The
 * handlers do their own CORS, auth and errors; every other request goes on as before.
 */
export function serveAheadOfExpress(server: Server, routes: Record<string, RawHandler>, onError: (err: unknown) => void): void {
  const others = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const handler = routes[q < 0 ? url : url.slice(0, q)];
    if (handler !== undefined && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS')) {
      handler(req, res).catch(onError);
      return;
    }
    for (const listener of others) listener.call(server, req, res);
  });
}
