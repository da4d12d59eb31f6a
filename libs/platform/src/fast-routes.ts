import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export type RawHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

/** Methods served ahead of Express unless a caller names others: the gateway's GET routes and their preflights. */
const READ_METHODS: readonly string[] = ['GET', 'HEAD', 'OPTIONS'];

/**
 * Serves hot HTTP routes on the Node server itself, ahead of Express: the gateway's
 * `/v1/poll`, `/v1/sse` and `/v1/presence` (a long-poll client makes one request per
 * message, and Express's router cost a sixth of the gateway's CPU there) and the
 * notifier's `POST /v1/publish` (Express and Nest's routing, filters and `res.json` were
 * ~40 % of a publish's CPU). Only requests for exactly one of `routes` with one of
 * `methods` are taken; the handlers do their own auth, body reading and error bodies;
 * every other request goes on to the listeners already there (Express, or an earlier
 * call of this function: calls chain, so each app of the single process adds its own).
 */
export function serveAheadOfExpress(
  server: Server,
  routes: Record<string, RawHandler>,
  onError: (err: unknown) => void,
  methods: readonly string[] = READ_METHODS,
): void {
  const others = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  server.removeAllListeners('request');
  server.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const handler = routes[q < 0 ? url : url.slice(0, q)];
    if (handler !== undefined && methods.includes(req.method ?? '')) {
      handler(req, res).catch(onError);
      return;
    }
    for (const listener of others) listener.call(server, req, res);
  });
}
