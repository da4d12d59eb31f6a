/** One message for one endpoint. The same `webhookId` travels with every attempt of it. */
export interface DeliveryJob {
  /** `webhook-id`: derived from the event's source and id and the endpoint id. */
  webhookId: string;
  endpointId: string;
  /** Which attempt this job is, 1 for the first. */
  attempt: number;
  eventId: string;
  eventType: string;
  /** When the job was first queued, ms since the epoch. */
  queuedAt: number;
  /** Not before this time, ms since the epoch (a retry's due time). */
  notBefore?: number;
  /** The request body, as the endpoint's format built it. */
  body: Uint8Array;
  /** Which delivery run of the message: absent for the first, the replay's id for a replay (its retries must not dedupe against the first run's). */
  run?: string;
}

/** Dedupe key of one attempt of one run of a message. */
export function attemptKey(job: Pick<DeliveryJob, 'webhookId' | 'attempt' | 'run'>): string {
  return job.run === undefined ? `${job.webhookId}:${job.attempt}` : `${job.webhookId}:${job.run}:${job.attempt}`;
}

/** A job and the key that makes adding it twice (a redelivered fan-out, a retried replay) a no-op. */
export interface QueuedJob {
  job: DeliveryJob;
  /** Same id within the queue's duplicate window = added once. */
  dedupeId: string;
}

/** A job handed to a worker. Exactly one of `ack` or `release` ends it. */
export interface JobDelivery {
  readonly job: DeliveryJob;
  /** 1 the first time; more when a worker died (or stalled) holding it. */
  readonly deliveryCount: number;
  /** The attempt is settled (succeeded, rescheduled or dead-lettered): remove the job. */
  ack(): Promise<void>;
  /** Still working: do not hand it to another worker yet. */
  working(): void;
  /** Not attempted: give it back at once (shutdown). */
  release(): void;
}

/** One endpoint's jobs as they become available, until `stop()`. */
export interface JobConsumer extends AsyncIterable<JobDelivery> {
  stop(): Promise<void>;
}

export interface ConsumeJobsOptions {
  /** Unacknowledged jobs of the endpoint across every consumer of every replica (OUTBOUND_CONCURRENCY). */
  concurrency: number;
  /** A job held this long without ack or `working()` goes to another worker. */
  ackWaitMs: number;
}

/** Why a message stopped being delivered. */
export type OutboundDeadLetterReason = 'exhausted' | 'endpoint_disabled';

/** A message that will not be attempted again unless replayed (`dlq.outbound.<endpoint id>`). */
export interface OutboundDeadLetter {
  webhookId: string;
  endpointId: string;
  eventId: string;
  eventType: string;
  reason: OutboundDeadLetterReason;
  /** Attempts made. */
  attempts: number;
  /** The last attempt's error, if it had one. */
  error?: string;
  statusCode?: number;
  queuedAt: string;
  deadLetteredAt: string;
  /** The request body (UTF-8 JSON). */
  body: string;
  /** The delivery run it ended (see DeliveryJob.run). */
  run?: string;
}

/** Jobs in the queue, for the queue-depth gauge. */
export interface QueueDepth {
  /** Queued or in flight. */
  queued: number;
  /** Waiting for their retry time. */
  scheduled: number;
}

/**
 * Durable per-endpoint delivery queues, shared by every replica (SPEC "Outbound webhooks":
 * a slow or failing endpoint never delays the others). Each endpoint has its own queue and
 * its own in-flight limit; jobs waiting for a retry are parked outside it, so they hold no
 * slot. A job taken by a worker that dies comes back after the ack wait, unchanged.
 * Implementations: JetStream (`jetstream-delivery.queue.ts`) and memory; both pass
 * `delivery-queue.conformance.ts`.
 */
export interface DeliveryQueue {
  /** Creates the streams (idempotent; run at startup). */
  ensure(): Promise<void>;
  /** Queues jobs for their endpoints now; resolves once all are durably stored. */
  enqueue(jobs: readonly QueuedJob[]): Promise<void>;
  /** Parks a job until its `notBefore`, then queues it (dedupe by webhook id and attempt). */
  schedule(job: DeliveryJob): Promise<void>;
  /** Starts moving due parked jobs into their queues (every replica runs it; they share the work). */
  startScheduler(): Promise<{ stop(): Promise<void> }>;
  /** Takes jobs of one endpoint. */
  consume(endpointId: string, options: ConsumeJobsOptions): Promise<JobConsumer>;
  /** Removes an endpoint's queue, parked jobs and dead letters. */
  removeEndpoint(endpointId: string): Promise<void>;
  deadLetter(entry: OutboundDeadLetter): Promise<void>;
  /** Dead letters of an endpoint stored at or after `since` (ms), oldest first, at most `limit`. */
  deadLetters(endpointId: string, since: number, limit: number): Promise<OutboundDeadLetter[]>;
  depth(): Promise<QueueDepth>;
  isReady(): boolean;
}
