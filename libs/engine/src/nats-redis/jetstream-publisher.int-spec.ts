import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { requireSharedServers, uniqueName } from '@switchboard/testing';
import { connectNats } from './connections';
import { JetStreamPublisher, PublishRejectedError, PublishTimeoutError } from './jetstream-publisher';

describe('JetStreamPublisher', () => {
  let nc: NatsConnection;
  let jsm: JetStreamManager;
  const id = uniqueName('pub').replace(/-/g, '_');
  const stream = `PUB_${id}`;
  const subjects = `pub_${id}`;

  beforeAll(async () => {
    const { natsUrl } = await requireSharedServers();
    nc = await connectNats(natsUrl, 'jetstream-publisher-test', 5000);
    jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: stream, subjects: [`${subjects}.>`], duplicate_window: 60_000_000_000 });
  });

  afterAll(async () => {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  });

  it('resolves with the ack, and tells a repeated message id as a duplicate', async () => {
    const publisher = new JetStreamPublisher(nc, 5000);
    const first = await publisher.publish(`${subjects}.a`, '{"n":1}', 'm-1');
    const again = await publisher.publish(`${subjects}.a`, '{"n":1}', 'm-1');
    const other = await publisher.publish(`${subjects}.a`, new TextEncoder().encode('{"n":2}'));
    expect(first).toEqual({ stream, seq: expect.any(Number), duplicate: false });
    expect(again).toEqual({ stream, seq: first.seq, duplicate: true });
    expect(other).toEqual({ stream, seq: first.seq + 1, duplicate: false });
    const stored = await jsm.streams.getMessage(stream, { seq: first.seq });
    expect(stored?.header.get('Nats-Msg-Id')).toBe('m-1');
    expect(stored?.string()).toBe('{"n":1}');
    expect(publisher.inFlight).toBe(0);
    await publisher.close();
  });

  it('answers many concurrent publishes, each with its own ack', async () => {
    const publisher = new JetStreamPublisher(nc, 5000);
    const acks = await Promise.all(Array.from({ length: 300 }, (_, i) => publisher.publish(`${subjects}.many`, String(i), `many-${i}`)));
    expect(new Set(acks.map((a) => a.seq)).size).toBe(300);
    for (let i = 0; i < 300; i++) {
      expect((await jsm.streams.getMessage(stream, { seq: acks[i].seq }))?.string()).toBe(String(i));
    }
    await publisher.close();
  });

  it('rejects a subject no stream listens on (no responders)', async () => {
    const publisher = new JetStreamPublisher(nc, 5000);
    await expect(publisher.publish(`nostream_${id}.x`, '{}', 'x')).rejects.toThrow(PublishRejectedError);
    await publisher.close();
  });

  it('rejects a message the connection refuses to send, and still sends the others of its turn', async () => {
    const publisher = new JetStreamPublisher(nc, 5000);
    const tooLarge = publisher.publish(`${subjects}.big`, 'x'.repeat((nc.info?.max_payload ?? 1024 * 1024) + 1));
    const fine = publisher.publish(`${subjects}.small`, '{}');
    await expect(tooLarge).rejects.toThrow('max_payload');
    await expect(fine).resolves.toMatchObject({ stream, duplicate: false });
    expect(publisher.inFlight).toBe(0);
    await publisher.close();
  });

  it('rejects an answer that is not a JetStream ack, and JetStream refusals', async () => {
    const responder = nc.subscribe(`plain_${id}.>`, {
      callback: (_err, msg) => {
        msg.respond('{"hello":true}');
      },
    });
    const publisher = new JetStreamPublisher(nc, 5000);
    try {
      await expect(publisher.publish(`plain_${id}.x`, '{}')).rejects.toThrow('invalid ack response');
      const refusing = nc.subscribe(`refuse_${id}.>`, {
        callback: (_err, msg) => {
          msg.respond('{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"}}');
        },
      });
      await expect(publisher.publish(`refuse_${id}.x`, '{}')).rejects.toThrow('maximum messages exceeded');
      refusing.unsubscribe();
    } finally {
      responder.unsubscribe();
      await publisher.close();
    }
  });

  it('rejects a publish nobody answers once its deadline passed, from the shared sweep', async () => {
    // A plain subscriber takes the message and never answers: only the deadline ends the wait.
    const silent = nc.subscribe(`silent_${id}.>`, { callback: () => undefined });
    const publisher = new JetStreamPublisher(nc, 200);
    try {
      const started = performance.now();
      const outcomes = await Promise.allSettled([publisher.publish(`silent_${id}.a`, '1'), publisher.publish(`silent_${id}.b`, '2')]);
      expect(outcomes.map((o) => o.status)).toEqual(['rejected', 'rejected']);
      for (const o of outcomes) expect((o as PromiseRejectedResult).reason).toBeInstanceOf(PublishTimeoutError);
      expect(performance.now() - started).toBeGreaterThanOrEqual(199);
      expect(publisher.inFlight).toBe(0);
      // And a stored publish after that still gets its ack on the same publisher.
      expect((await publisher.publish(`${subjects}.after`, '{}')).stream).toBe(stream);
    } finally {
      silent.unsubscribe();
      await publisher.close();
    }
  });

  it('close() lets the publishes in flight get their answer first', async () => {
    const publisher = new JetStreamPublisher(nc, 5000);
    const inFlight = publisher.publish(`${subjects}.closing`, '{}', 'closing-1');
    const closed = publisher.close();
    await expect(inFlight).resolves.toMatchObject({ stream, duplicate: false });
    await closed;
    expect(publisher.inFlight).toBe(0);
  });
});
