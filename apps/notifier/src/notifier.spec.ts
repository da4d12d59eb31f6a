import { ChannelListener, StoredMessage } from '@switchboard/engine';
import { RunningService, startService } from '@switchboard/platform';
import { eventually } from '@switchboard/testing';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { notifierDefinition } from './notifier.definition';

function collect(into: StoredMessage[]): ChannelListener {
  return { onSubscribed: () => undefined, onMessage: (m) => into.push(m), onLost: () => undefined };
}

/** The notifier in one process on the memory engine: consumer, routing, DLQ and the HTTP API wired together. */
describe('notifier service (memory engine)', () => {
  let service: RunningService;
  const KEY = 'test-publish-key';
  const ADMIN = 'test-admin-key';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-routes-'));
    const routes = join(dir, 'routes.yaml');
    writeFileSync(routes, 'routes:\n  - match: { type: "github.push" }\n    channels: ["repo:{data.repository.full_name}"]\n');
    service = await startService(notifierDefinition, {
      PORT: '0',
      HOST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      PUBLISH_API_KEY: KEY,
      ADMIN_API_KEY: ADMIN,
      ROUTES_CONFIG: routes,
      NOTIFIER_MAX_DELIVER: '2',
      NOTIFIER_RETRY_BASE_MS: '10',
      NOTIFIER_RETRY_MAX_MS: '20',
    });
  });
  afterAll(() => service.stop());

  it('routes an event from the bus to its channels, by attribute and by rule', async () => {
    const { engine, eventBus } = service.platform.runtime;
    const a: StoredMessage[] = [];
    const b: StoredMessage[] = [];
    await engine.subscribe('orders:1', collect(a));
    await engine.subscribe('repo:acme/api', collect(b));
    await eventBus.publish('events.app.orders.paid', {
      specversion: '1.0',
      id: 'e1',
      source: 'svc',
      type: 'orders.paid',
      data: { n: 1 },
      channels: 'orders:1',
    });
    await eventBus.publish('events.webhook.gh.github.push', {
      specversion: '1.0',
      id: 'e2',
      source: 'webhook/gh',
      type: 'github.push',
      data: { repository: { full_name: 'acme/api' } },
    });
    await eventually(() => {
      expect(a.map((m) => [m.offset, JSON.parse(m.json)])).toEqual([
        [1, expect.objectContaining({ id: 'e1', type: 'orders.paid', data: { n: 1 } })],
      ]);
      expect(b.map((m) => JSON.parse(m.json).id)).toEqual(['e2']);
    });
  });

  it('dead-letters an unroutable event with the reason', async () => {
    const { eventBus } = service.platform.runtime;
    await eventBus.publish('events.app.x', { specversion: '1.0', id: 'lost-1', source: 'svc', type: 'nobody.cares', data: {} });
    const res = await eventually(async () => {
      const r = await fetch(`${service.url}/v1/dlq`, { headers: { authorization: `Bearer ${ADMIN}` } });
      const body = (await r.json()) as { deadLetters: Array<{ deadLetter: { reason: string; error: string; event: { id: string } } }> };
      expect(body.deadLetters.map((d) => d.deadLetter.event.id)).toContain('lost-1');
      return body;
    });
    const dl = res.deadLetters.find((d) => d.deadLetter.event.id === 'lost-1')!.deadLetter;
    expect(dl.reason).toBe('unroutable');
    expect(dl.error).toMatch(/no route matches type "nobody.cares"/);
  });

  it('publishes over HTTP', async () => {
    const r = await fetch(`${service.url}/v1/publish`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ channels: ['orders:7', 'orders:8'], data: { ok: true } }),
    });
    expect(r.status).toBe(200);
    expect(await r.json()).toEqual({ offsets: { 'orders:7': 1, 'orders:8': 1 } });
  });
});
