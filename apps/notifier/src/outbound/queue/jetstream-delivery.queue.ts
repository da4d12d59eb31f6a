import { applyStreamReplicas, retryJetStreamSetup } from '@switchboard/engine';
import {
  AckPolicy,
  DeliverPolicy,
  DiscardPolicy,
  jetstream,
  JetStreamApiCodes,
  JetStreamApiError,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
} from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/nats-core';
import type { EngineLogger } from '@switchboard/engine';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  attemptKey,
  type ConsumeJobsOptions,
  type DeliveryJob,
  type DeliveryQueue,
  type JobConsumer,
  type JobDelivery,
  type OutboundDeadLetter,
  type QueueDepth,
  type QueuedJob,
} from './delivery-queue';

export interface JetStreamQueueNames {
  /** OUTBOUND_STREAM: work queue of `<prefix>.q.<endpoint>` (ready) and `<prefix>.r.<endpoint>` (parked). */
  stream: string;
  /** OUTBOUND_SUBJECT_PREFIX */
  subjectPrefix: string;
  /** OUTBOUND_DLQ_STREAM */
  dlqStream: string;
  /** OUTBOUND_DLQ_SUBJECT_PREFIX: dead letters on `<prefix>.<endpoint>`. */
  dlqSubjectPrefix: string;
  /** Durable of the scheduler that moves due parked jobs (`<OUTBOUND_DURABLE>_scheduler`). */
  schedulerDurable: string;
}

export interface JetStreamQueueSettings {
  replicas: number;
  /** Repeated publish ids inside it are stored once (≥ 120 s). */
  duplicateWindowSeconds: number;
  dlqMaxAgeSeconds: number;
  /** How long startup setup retries while JetStream is unavailable (STARTUP_TIMEOUT_SECONDS); 0: once. */
  setupTimeoutMs?: number;
}

/** Metadata line before the body in a job message: JSON never holds a raw newline, so the first one ends it. */
interface JobMeta {
  w: string;
  e: string;
  a: number;
  i: string;
  t: string;
  q: number;
  n?: number;
  r?: string;
}

const NEWLINE = 0x0a;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJob(job: DeliveryJob): Uint8Array {
  const meta: JobMeta = { w: job.webhookId, e: job.endpointId, a: job.attempt, i: job.eventId, t: job.eventType, q: job.queuedAt };
  if (job.notBefore !== undefined) meta.n = job.notBefore;
  if (job.run !== undefined) meta.r = job.run;
  const head = encoder.encode(JSON.stringify(meta) + '\n');
  const out = new Uint8Array(head.length + job.body.length);
  out.set(head, 0);
  out.set(job.body, head.length);
  return out;
}

export function decodeJob(data: Uint8Array): DeliveryJob {
  const cut = data.indexOf(NEWLINE);
  if (cut < 0) throw new Error('job message without metadata line');
  const meta = JSON.parse(decoder.decode(data.subarray(0, cut))) as JobMeta;
  return {
    webhookId: meta.w,
    endpointId: meta.e,
    attempt: meta.a,
    eventId: meta.i,
    eventType: meta.t,
    queuedAt: meta.q,
    ...(meta.n === undefined ? {} : { notBefore: meta.n }),
    ...(meta.r === undefined ? {} : { run: meta.r }),
    body: data.subarray(cut + 1),
  };
}

function isApiError(err: unknown, code: number): boolean {
  return err instanceof JetStreamApiError && err.code === code;
}

/** Jobs one endpoint consumer asks the server for at a time (the window is still max_ack_pending). */
const PULL_BATCH = 256;

/** Pause before a failed scheduler consumer is opened again. */
const RESTART_DELAY_MS = 1000;

/**
 * Delivery queues on JetStream. One work-queue stream holds every endpoint's jobs on
 * its own subject, and every endpoint has its own durable consumer on that subject, whose
 * `max_ack_pending` is OUTBOUND_CONCURRENCY: the server enforces the in-flight limit
 * across all replicas, per endpoint, so a stalled endpoint fills only its own window.
 * Retries are parked on `<prefix>.r.<endpoint>` under one scheduler consumer with no
 * pending limit, which naks each job until its due time (JetStream's delayed redelivery)
 * and then moves it to the endpoint's queue. Dead letters go to a limits stream,
 * `<dlq prefix>.<endpoint>`, kept DLQ_MAX_AGE_SECONDS.
 */
export class JetStreamDeliveryQueue implements DeliveryQueue {
  private readonly js: JetStreamClient;
  private jsm?: JetStreamManager;

  constructor(
    private readonly nc: NatsConnection,
    private readonly names: JetStreamQueueNames,
    private readonly settings: JetStreamQueueSettings,
    private readonly logger: EngineLogger,
    private readonly isConnected: () => boolean = () => !nc.isClosed(),
  ) {
    this.js = jetstream(nc, { timeout: 5000 });
  }

  async ensure(): Promise<void> {
    await retryJetStreamSetup('outbound streams', () => this.ensureStreams(), this.settings.setupTimeoutMs ?? 0, this.logger);
  }

  private async ensureStreams(): Promise<void> {
    const jsm = (this.jsm = await jetstreamManager(this.nc, { timeout: 5000 }));
    const p = this.names.subjectPrefix;
    await this.ensureStream(jsm, this.names.stream, {
      subjects: [`${p}.q.*`, `${p}.r.*`],
      retention: RetentionPolicy.Workqueue,
      duplicate_window: nanos(this.settings.duplicateWindowSeconds * 1000),
    });
    await this.ensureStream(jsm, this.names.dlqStream, {
      subjects: [`${this.names.dlqSubjectPrefix}.*`],
      retention: RetentionPolicy.Limits,
      max_age: nanos(this.settings.dlqMaxAgeSeconds * 1000),
      duplicate_window: nanos(this.settings.duplicateWindowSeconds * 1000),
    });
  }

  async enqueue(jobs: readonly QueuedJob[]): Promise<void> {
    // Published together, awaited together: one round trip's latency for a whole fan-out.
    await Promise.all(
      jobs.map(({ job, dedupeId }) => this.js.publish(this.queueSubject(job.endpointId), encodeJob(job), { msgID: dedupeId })),
    );
  }

  async schedule(job: DeliveryJob): Promise<void> {
    await this.js.publish(`${this.names.subjectPrefix}.r.${job.endpointId}`, encodeJob(job), {
      msgID: attemptKey(job),
    });
  }

  async startScheduler(): Promise<{ stop(): Promise<void> }> {
    const jsm = this.manager();
    const durable = this.names.schedulerDurable;
    const config = {
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(30_000),
      max_deliver: -1,
      // Every parked job is pending here until due: no limit, or a backlog of retries would stall the rest.
      max_ack_pending: -1,
      filter_subject: `${this.names.subjectPrefix}.r.*`,
    };
    await retryJetStreamSetup(
      `consumer ${durable}`,
      () => this.ensureConsumer(jsm, durable, config),
      this.settings.setupTimeoutMs ?? 0,
      this.logger,
    );
    let stopped = false;
    let current: { close(): Promise<void | Error> } | undefined;
    const loop = (async () => {
      while (!stopped) {
        try {
          const consumer = await this.js.consumers.get(this.names.stream, durable);
          const messages = await consumer.consume({ max_messages: 256 });
          current = messages;
          for await (const m of messages) await this.moveIfDue(m);
        } catch (err) {
          if (stopped) break;
          this.logger.error({ err: (err as Error).message }, 'outbound scheduler failed, restarting');
        }
        if (!stopped) await sleep(RESTART_DELAY_MS);
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        await current?.close();
        await loop;
      },
    };
  }

  async consume(endpointId: string, options: ConsumeJobsOptions): Promise<JobConsumer> {
    const jsm = this.manager();
    await this.ensureConsumer(jsm, endpointId, {
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(options.ackWaitMs),
      max_deliver: -1,
      max_ack_pending: options.concurrency,
      filter_subject: this.queueSubject(endpointId),
    });
    const consumer = await this.js.consumers.get(this.names.stream, endpointId);
    // The server hands out at most `concurrency` across replicas (max_ack_pending), however many
    // are asked for: a pull of PULL_BATCH keeps this replica's share full with one pull request per
    // ~PULL_BATCH/4 jobs instead of one per two (a pull of `concurrency` re-pulls at 75 % of it).
    const messages = await consumer.consume({ max_messages: Math.max(PULL_BATCH, options.concurrency) });
    return {
      [Symbol.asyncIterator]: async function* (): AsyncGenerator<JobDelivery> {
        for await (const m of messages) {
          let job: DeliveryJob;
          try {
            job = decodeJob(m.data);
          } catch {
            // Not ours (written by hand?): it can never be delivered, so it must not block a slot.
            m.term();
            continue;
          }
          yield toDelivery(m, job);
        }
      },
      stop: async () => {
        await messages.close();
      },
    };
  }

  async removeEndpoint(endpointId: string): Promise<void> {
    const jsm = this.manager();
    await jsm.consumers.delete(this.names.stream, endpointId).catch((err: unknown) => {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
    });
    await jsm.streams.purge(this.names.stream, { filter: this.queueSubject(endpointId) });
    await jsm.streams.purge(this.names.stream, { filter: `${this.names.subjectPrefix}.r.${endpointId}` });
    await jsm.streams.purge(this.names.dlqStream, { filter: `${this.names.dlqSubjectPrefix}.${endpointId}` });
  }

  async deadLetter(entry: OutboundDeadLetter): Promise<void> {
    await this.js.publish(`${this.names.dlqSubjectPrefix}.${entry.endpointId}`, JSON.stringify(entry), {
      msgID: `${attemptKey({ webhookId: entry.webhookId, attempt: entry.attempts, run: entry.run })}:dead:${entry.reason}`,
    });
  }

  async deadLetters(endpointId: string, since: number, limit: number): Promise<OutboundDeadLetter[]> {
    const subject = `${this.names.dlqSubjectPrefix}.${endpointId}`;
    const info = await this.manager().streams.info(this.names.dlqStream, { subjects_filter: subject });
    if ((info.state.subjects?.[subject] ?? 0) === 0 || limit <= 0) return [];
    const reader = await this.js.consumers.get(this.names.dlqStream, {
      filter_subjects: subject,
      deliver_policy: DeliverPolicy.StartTime,
      opt_start_time: new Date(since).toISOString(),
    });
    const result: OutboundDeadLetter[] = [];
    const batch = await reader.fetch({ max_messages: limit, expires: 2000 });
    for await (const m of batch) {
      result.push(m.json<OutboundDeadLetter>());
      if (m.info.pending === 0 || result.length >= limit) break;
    }
    return result;
  }

  async depth(): Promise<QueueDepth> {
    const jsm = this.manager();
    const [stream, scheduler] = await Promise.all([
      jsm.streams.info(this.names.stream),
      jsm.consumers.info(this.names.stream, this.names.schedulerDurable).catch(() => undefined),
    ]);
    const scheduled = scheduler === undefined ? 0 : scheduler.num_pending + scheduler.num_ack_pending;
    return { queued: Math.max(0, stream.state.messages - scheduled), scheduled };
  }

  isReady(): boolean {
    return this.isConnected();
  }

  /** A parked job: nak until due (no attempt, no slot), then into its endpoint's queue. */
  private async moveIfDue(m: JsMsg): Promise<void> {
    let job: DeliveryJob;
    try {
      job = decodeJob(m.data);
    } catch {
      m.term();
      return;
    }
    const wait = (job.notBefore ?? 0) - Date.now();
    if (wait > 5) {
      m.nak(wait);
      return;
    }
    try {
      // The id makes a move repeated after a crash (before the ack) a no-op.
      await this.js.publish(this.queueSubject(job.endpointId), m.data, { msgID: `${attemptKey(job)}:q` });
      m.ack();
    } catch (err) {
      this.logger.warn({ webhookId: job.webhookId, err: (err as Error).message }, 'parked job not moved, retrying');
      m.nak(1000);
    }
  }

  private queueSubject(endpointId: string): string {
    return `${this.names.subjectPrefix}.q.${endpointId}`;
  }

  private manager(): JetStreamManager {
    if (this.jsm === undefined) throw new Error('JetStreamDeliveryQueue.ensure() first');
    return this.jsm;
  }

  private async ensureStream(jsm: JetStreamManager, name: string, settings: Record<string, unknown>): Promise<void> {
    try {
      const info = await jsm.streams.info(name);
      // Retention cannot change on an existing stream; the rest is brought up to date.
      const { retention: _retention, ...rest } = settings;
      void _retention;
      await jsm.streams.update(name, { ...info.config, ...rest });
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.StreamNotFound)) throw err;
      await jsm.streams.add({
        name,
        ...settings,
        storage: StorageType.File,
        discard: DiscardPolicy.Old,
        num_replicas: this.settings.replicas,
      });
      this.logger.info({ stream: name, replicas: this.settings.replicas }, 'stream created');
      return;
    }
    await applyStreamReplicas(jsm, name, this.settings.replicas, this.logger);
  }

  /** Creates the durable, or brings its limits up to date (settings changed since it was created). */
  private async ensureConsumer(
    jsm: JetStreamManager,
    durable: string,
    config: { ack_policy: AckPolicy; ack_wait: number; max_deliver: number; max_ack_pending: number; filter_subject: string },
  ): Promise<void> {
    try {
      const info = await jsm.consumers.info(this.names.stream, durable);
      if (info.config.ack_wait !== config.ack_wait || info.config.max_ack_pending !== config.max_ack_pending) {
        await jsm.consumers.update(this.names.stream, durable, { ack_wait: config.ack_wait, max_ack_pending: config.max_ack_pending });
      }
    } catch (err) {
      if (!isApiError(err, JetStreamApiCodes.ConsumerNotFound)) throw err;
      try {
        await jsm.consumers.add(this.names.stream, { durable_name: durable, deliver_policy: DeliverPolicy.All, ...config });
      } catch (addErr) {
        // Another replica created it first: same config, nothing to do.
        if (!(addErr instanceof JetStreamApiError)) throw addErr;
        await jsm.consumers.info(this.names.stream, durable);
      }
    }
  }
}

/**
 * Acks of jobs settled in the same turn of the event loop, sent together: an ack is sent at
 * the end of the turn (setImmediate) with the others of that turn, so the client writes them
 * in one socket write and the server reads them in one wakeup, instead of one each (every
 * completed request of a poll phase otherwise flushes its own ack). It costs the slot less
 * than one loop turn; an ack lost with a crash is one more attempt, as before.
 */
const pendingAcks: Array<{ m: JsMsg; done: () => void }> = [];

function flushAcks(): void {
  for (const { m, done } of pendingAcks.splice(0)) {
    m.ack();
    done();
  }
}

function toDelivery(m: JsMsg, job: DeliveryJob): JobDelivery {
  return {
    job,
    deliveryCount: m.info.deliveryCount,
    // A plain ack, like every JetStream client's default: waiting for the server's reply
    // would cost a round trip per delivery; an ack lost with a crash is one more attempt.
    ack: () =>
      new Promise<void>((done) => {
        if (pendingAcks.push({ m, done }) === 1) setImmediate(flushAcks);
      }),
    working: () => m.working(),
    release: () => m.nak(),
  };
}
