import type { Logger, Metrics } from '@switchboard/observability';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The `/metrics` listener on METRICS_PORT. */
export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

function sendJson(res: ServerResponse, status: number, body: { error: string; message: string }): void {
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Cache-Control': 'no-store' });
  res.end(JSON.stringify(body));
}

/**
 * Serves `GET /metrics` (Prometheus text) and nothing else on its own port, so the service's
 * main port (the one an Ingress or LoadBalancer exposes) does not have to publish it. A plain
 * node:http server: scraping must not depend on the app's middleware, body parsing or drain.
 */
export async function startMetricsServer(metrics: Metrics, logger: Logger, host: string, port: number): Promise<MetricsServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/metrics' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      return sendJson(res, 404, { error: 'not_found', message: 'this port serves GET /metrics only' });
    }
    metrics.registry.metrics().then(
      (text) => {
        res.writeHead(200, { 'Content-Type': metrics.registry.contentType, 'Cache-Control': 'no-store' });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        logger.error({ err }, 'metrics scrape failed');
        sendJson(res, 503, { error: 'unavailable', message: 'metrics could not be collected' });
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // A scraper keeps its connection open between scrapes: it must not hold up shutdown.
        server.closeAllConnections();
      }),
  };
}
