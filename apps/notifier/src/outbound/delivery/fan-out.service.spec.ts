import { MemoryEventBus } from '@switchboard/engine';
import { createMetrics } from '@switchboard/observability';
import { eventually } from '@switchboard/testing';
import { Endpoint, newEndpointId } from '../endpoints/endpoint';
import { EndpointRegistry } from '../endpoints/endpoint-registry';
import { MemoryEndpointStore } from '../endpoints/memory-endpoint.store';
import { DeliveryJob } from '../queue/delivery-queue';
import { MemoryDeliveryQueue } from '../queue/memory-delivery.queue';
import { generateWebhookSecret } from '../signing/webhook-secret';
import { FanOutService, webhookIdOf } from './fan-out.service';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function endpoint(events: string[], overrides: Partial<Endpoint> = {}): Endpoint {
  const now = new Date().toISOString();
  return {
    id: newEndpointId(),
    url: 'https://hooks.example.com/x',
    description: '',
    events,
    format: 'standard',
    disabled: false,
    secrets: [{ secret: generateWebhookSecret() }],
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

describe('FanOutService (memory bus and queue)', () => {
  const bus = new MemoryEventBus({ eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 });
  const queue = new MemoryDeliveryQueue();
  const store = new MemoryEndpointStore();
  const registry = new EndpointRegistry(store, silent);
  const fanOut = new FanOutService(bus, registry, queue, createMetrics(), silent, { durable: 'outbound', ackWaitMs: 5000, concurrency: 8 });
  const orders = endpoint(['orders.*']);
  const all = endpoint(['*']);
  const off = endpoint(['orders.*'], { disabled: true, disabledReason: 'manual' });
  const notices = endpoint(['switchboard.*']);

  beforeAll(async () => {
    await bus.ensureStreams();
    for (const e of [orders, all, off, notices]) await store.create(e);
    await registry.start();
    await fanOut.start();
  });
  afterAll(async () => {
    await fanOut.stop();
    await registry.stop();
    queue.close();
    await bus.close();
  });

  async function jobsOf(endpointId: string, n: number): Promise<DeliveryJob[]> {
    const consumer = await queue.consume(endpointId, { concurrency: 100, ackWaitMs: 10_000 });
    const jobs: DeliveryJob[] = [];
    const loop = (async () => {
      for await (const d of consumer) {
        jobs.push(d.job);
        await d.ack();
      }
    })();
    await eventually(() => expect(jobs).toHaveLength(n));
    await consumer.stop();
    await loop;
    return jobs;
  }

  it('queues one job per enabled endpoint that wants the type, with a stable webhook-id and a shared body', async () => {
    await bus.publish('events.app.orders.paid', {
      specversion: '1.0',
      id: 'o1',
      source: 'shop',
      type: 'orders.paid',
      time: '2026-11-02T10:00:00Z',
      data: { n: 1 },
    });
    await bus.publish('events.app.users.new', { specversion: '1.0', id: 'u1', source: 'shop', type: 'users.new', data: { u: 'a' } });
    const [forOrders] = await jobsOf(orders.id, 1);
    const forAll = await jobsOf(all.id, 2);
    expect(forOrders).toMatchObject({
      webhookId: webhookIdOf('shop', 'o1', orders.id),
      attempt: 1,
      eventId: 'o1',
      eventType: 'orders.paid',
    });
    expect(JSON.parse(Buffer.from(forOrders.body).toString())).toEqual({
      type: 'orders.paid',
      timestamp: '2026-11-02T10:00:00.000Z',
      data: { n: 1 },
    });
    const sameEvent = forAll.find((j) => j.eventId === 'o1')!;
    expect(sameEvent.webhookId).not.toBe(forOrders.webhookId);
    // Built once per event and format: the very same bytes for both endpoints.
    expect(sameEvent.body).toBe(forOrders.body);
    // The timestamp falls back to the store time when the event has no `time`.
    expect(Date.parse(JSON.parse(Buffer.from(forAll.find((j) => j.eventId === 'u1')!.body).toString()).timestamp)).toBeGreaterThan(0);
    expect(await queue.depth()).toEqual({ queued: 0, scheduled: 0 });
  });

  it('never sends a notice about an endpoint to that endpoint', async () => {
    const data = { endpointId: notices.id, url: 'x', reason: 'gone' };
    await bus.publish('events.switchboard.endpoint.disabled', {
      specversion: '1.0',
      id: 'd1',
      source: 'switchboard/notifier',
      type: 'switchboard.endpoint.disabled',
      data,
    });
    await bus.publish('events.switchboard.endpoint.disabled', {
      specversion: '1.0',
      id: 'd2',
      source: 'switchboard/notifier',
      type: 'switchboard.endpoint.disabled',
      data: { ...data, endpointId: orders.id },
    });
    const jobs = await jobsOf(notices.id, 1);
    expect(jobs.map((j) => j.eventId)).toEqual(['d2']);
    expect((await jobsOf(all.id, 2)).map((j) => j.eventId).sort()).toEqual(['d1', 'd2']);
  });

  it('follows the registry: a new endpoint gets later events, a disabled one none', async () => {
    const late = endpoint(['late.*']);
    await store.create(late);
    await eventually(() => expect(registry.get(late.id)).toBeDefined());
    await bus.publish('events.app.late', { specversion: '1.0', id: 'l1', source: 'shop', type: 'late.one', data: {} });
    expect((await jobsOf(late.id, 1))[0].eventId).toBe('l1');
    await registry.mutate(late.id, (e) => ({ ...e, disabled: true }));
    await bus.publish('events.app.late', { specversion: '1.0', id: 'l2', source: 'shop', type: 'late.one', data: {} });
    await jobsOf(all.id, 2); // l1 and l2 reached the catch-all: both fanned out
    expect(await queue.depth()).toEqual({ queued: 0, scheduled: 0 });
  });
});
