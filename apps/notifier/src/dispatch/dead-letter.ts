import type { CloudEvent, EventBusNames } from '@switchboard/engine';

/**
 * Why an event was dead-lettered:
 * - `publish_failed`: a channel publish kept failing until the last delivery (NOTIFIER_MAX_DELIVER);
 * - `rejected`: the engine refused the message for good (e.g. larger than MAX_MESSAGE_BYTES);
 * - `unroutable`: no channel at all (no `channels` attribute and no rule applied);
 * - `invalid_event`: the payload is not a CloudEvent (not JSON, or no id/source/type).
 */
export type DeadLetterReason = 'publish_failed' | 'rejected' | 'unroutable' | 'invalid_event';

/** A dead letter as stored on EVENTS_DLQ (JSON). SPEC: the original event, the error and the delivery count. */
export interface DeadLetter {
  reason: DeadLetterReason;
  /** The last error, safe to show (never the event body). */
  error: string;
  /** Deliveries of the event when it was dead-lettered (1 for events that cannot succeed). */
  deliveryCount: number;
  /** The event's subject on EVENTS. */
  subject: string;
  /** Its sequence on EVENTS. */
  seq: number;
  /** When EVENTS stored it (its first receipt), ISO 8601. */
  storedAt: string;
  /** When it was dead-lettered, ISO 8601. */
  deadLetteredAt: string;
  /** The original event, unchanged; absent only when the payload was not a JSON object. */
  event?: CloudEvent;
  /** The original payload as base64, only when it was not a JSON object. */
  raw?: string;
  /** Channels the event was routed to. */
  channels?: string[];
  /** Of those, channels that took it (a replay publishes only to the others). */
  delivered?: string[];
}

/** A dead letter with its position on the dead-letter stream. */
export interface DeadLetterEntry {
  /** Sequence on EVENTS_DLQ: the id used by `replay`. */
  dlqSeq: number;
  dlqSubject: string;
  deadLetter: DeadLetter;
}

/**
 * `<dlq prefix>.<original subject minus the events prefix>`:
 * `events.webhook.gh.github.push` → `dlq.events.webhook.gh.github.push`.
 */
export function deadLetterSubject(names: EventBusNames, subject: string): string {
  const prefix = names.eventsSubjectPrefix + '.';
  return `${names.dlqSubjectPrefix}.${subject.startsWith(prefix) ? subject.slice(prefix.length) : subject}`;
}

/** The events subject a dead letter came from (inverse of `deadLetterSubject`). */
export function originalSubject(names: EventBusNames, dlqSubject: string): string {
  const prefix = names.dlqSubjectPrefix + '.';
  return `${names.eventsSubjectPrefix}.${dlqSubject.startsWith(prefix) ? dlqSubject.slice(prefix.length) : dlqSubject}`;
}
