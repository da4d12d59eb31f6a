import { createLogger } from '@switchboard/observability';
import { serveAheadOfExpress } from '@switchboard/platform';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { IngestPipeline } from './ingest.pipeline';
import { WebhookRoute } from './webhook-route';

/** A server whose only listener is the fast route (no Express behind it: anything else is a 418). */
async function serve(pipeline: Partial<IngestPipeline>): Promise<{ server: Server; url: string }> {
  const server = createServer((_req, res) => res.writeHead(418).end());
  const route = new WebhookRoute(pipeline as IngestPipeline, createLogger({ name: 'test', level: 'silent' }));
  serveAheadOfExpress(server, route.routes(), () => undefined, ['POST']);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

describe('WebhookRoute', () => {
  it('takes POSTs to the configured sources only, and answers what the pipeline replies', async () => {
    const seen: string[] = [];
    const { server, url } = await serve({
      sourceNames: () => ['gh', 'a b'],
      handle: async (request) => {
        seen.push(`${request.source} ${request.originalUrl} ${(await request.readBody(100, 1000)).toString()}`);
        return { status: 202, body: { accepted: true } };
      },
    });
    try {
      const gh = await fetch(`${url}/v1/webhooks/gh?x=1`, { method: 'POST', body: 'hi' });
      expect([gh.status, await gh.json()]).toEqual([202, { accepted: true }]);
      expect((await fetch(`${url}/v1/webhooks/a%20b`, { method: 'POST', body: '' })).status).toBe(202);
      // Left to the listeners behind it (Express: 404, 405, other spellings).
      expect((await fetch(`${url}/v1/webhooks/other`, { method: 'POST', body: '' })).status).toBe(418);
      expect((await fetch(`${url}/v1/webhooks/gh`)).status).toBe(418);
      expect(seen).toEqual(['gh /v1/webhooks/gh?x=1 hi', 'a b /v1/webhooks/a%20b ']);
    } finally {
      server.close();
    }
  });

  it('answers an unexpected failure with 500 and the error body of the app filter', async () => {
    const { server, url } = await serve({ sourceNames: () => ['gh'], handle: () => Promise.reject(new Error('boom')) });
    try {
      const res = await fetch(`${url}/v1/webhooks/gh`, { method: 'POST', body: '{}' });
      expect([res.status, await res.json()]).toEqual([500, { error: 'internal', message: 'internal error' }]);
    } finally {
      server.close();
    }
  });
});
