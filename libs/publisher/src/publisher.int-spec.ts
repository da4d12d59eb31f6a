import { jetstream, jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { createPublisher, Publisher, PublisherError } from './index';

/** The publisher against the real JetStream: a stream of its own per file. */
describe('publisher (JetStream)', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  let publisher: Publisher;
  const stream = uniqueName('PUB').replace(/-/g, '_');
  const prefix = uniqueName('ev').replace(/-/g, '_');

  async function stored(seq: number): Promise<{ subject: string; msgId?: string; event: Record<string, unknown> }> {
    const m = await jsm.streams.getMessage(stream, { seq });
    return { subject: m!.subject, msgId: m!.header?.get('Nats-Msg-Id'), event: m!.json<Record<string, unknown>>() };
  }

  beforeAll(async () => {
    const { natsUrl } = await requireSharedServers();
    nc = await connect({ servers: natsUrl });
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${prefix}.>`], duplicate_window: 120_000_000_000 });
    publisher = await createPublisher({ servers: natsUrl, source: 'orders-service', subjectPrefix: prefix });
  });

  afterAll(async () => {
    await publisher?.close();
    await jsm?.streams.delete(stream).catch(() => undefined);
    await nc?.close();
  });

  it('stores a CloudEvent with the channels attribute, under <prefix>.<type>, with its id as Nats-Msg-Id', async () => {
    const receipt = await publisher.publish({
      type: 'orders.paid',
      data: { orderId: 42 },
      channels: ['orders:42', 'user:alice'],
      id: 'evt-1',
    });
    expect(receipt).toEqual({ id: 'evt-1', subject: `${prefix}.orders.paid`, seq: expect.any(Number), duplicate: false });
    const { subject, msgId, event } = await stored(receipt.seq);
    expect(subject).toBe(`${prefix}.orders.paid`);
    expect(msgId).toBe('evt-1');
    expect(event).toEqual({
      specversion: '1.0',
      id: 'evt-1',
      source: 'orders-service',
      type: 'orders.paid',
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      datacontenttype: 'application/json',
      data: { orderId: 42 },
      channels: 'orders:42,user:alice',
    });
  });

  it('stores a repeated id once (JetStream dedupe) and generates distinct ids when none is given', async () => {
    const first = await publisher.publish({ type: 'orders.shipped', data: 1, id: 'evt-dup' });
    const again = await publisher.publish({ type: 'orders.shipped', data: 1, id: 'evt-dup' });
    expect(again).toEqual({ ...first, duplicate: true });
    const a = await publisher.publish({ type: 'orders.created', data: null });
    const b = await publisher.publish({ type: 'orders.created', data: null });
    expect(a.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(b.id).not.toBe(a.id);
    expect((await stored(a.seq)).event).not.toHaveProperty('channels');
  });

  it('uses an explicit subject after the prefix', async () => {
    const r = await publisher.publish({ type: 'Order Paid!', subject: 'app.orders.paid', data: {} });
    expect((await stored(r.seq)).subject).toBe(`${prefix}.app.orders.paid`);
  });

  it('refuses invalid input before anything is published', async () => {
    const before = (await jsm.streams.info(stream)).state.messages;
    const refusals = [
      publisher.publish({ type: 'x', data: 1, channels: ['ok:1', 'bad channel'] }),
      publisher.publish({ type: 'x', data: 1, channels: [] }),
      publisher.publish({ type: '', data: 1 }),
      publisher.publish({ type: 'has space', data: 1 }),
      publisher.publish({ type: 'x', data: undefined }),
    ];
    for (const refusal of refusals) await expect(refusal).rejects.toMatchObject({ name: 'PublisherError', code: 'invalid_event' });
    await expect(refusals[0]).rejects.toThrow(/invalid channel "bad channel"/);
    expect((await jsm.streams.info(stream)).state.messages).toBe(before);
  });

  it('fails with unavailable when no stream takes the subject', async () => {
    const other = await createPublisher({
      connection: nc,
      source: 's',
      subjectPrefix: uniqueName('nostream').replace(/-/g, '_'),
      timeoutMs: 1000,
    });
    const err = await other.publish({ type: 'x', data: 1 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PublisherError);
    expect((err as PublisherError).code).toBe('unavailable');
    await other.close();
    // A connection the caller passed in stays open.
    expect(nc.isClosed()).toBe(false);
    await expect(other.publish({ type: 'x', data: 1 })).rejects.toMatchObject({ code: 'closed' });
  });

  it('works on a connection the caller owns, with the default prefix', async () => {
    const events = uniqueName('DEFAULT').replace(/-/g, '_');
    // A private subject under the default prefix `events`, so this file never touches other streams' subjects.
    const token = uniqueName('pubtest').replace(/-/g, '_');
    await jsm.streams.add({ name: events, subjects: [`events.${token}.>`] });
    try {
      const own = await createPublisher({ connection: nc, source: 'billing' });
      const r = await own.publish({ type: 'invoice.sent', subject: `${token}.invoice.sent`, data: { n: 1 } });
      expect(r.subject).toBe(`events.${token}.invoice.sent`);
      const m = await jetstream(nc)
        .streams.get(events)
        .then((s) => s.getMessage({ seq: r.seq }));
      expect(m?.json<{ source: string }>().source).toBe('billing');
    } finally {
      await jsm.streams.delete(events);
    }
  });
});
