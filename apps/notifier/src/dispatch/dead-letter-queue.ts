import type { CloudEvent, EventBus, StoredEvent } from '@switchboard/engine';
import { SwitchboardError } from '@switchboard/protocol';
import { DeadLetter, DeadLetterEntry, deadLetterSubject, originalSubject } from './dead-letter';

const decoder = new TextDecoder();

/** Dead letters read per round trip when listing or replaying everything. */
const PAGE = 100;

/** What a replay did. */
export interface ReplayResult {
  dlqSeq: number;
  eventId: string;
  /** Subject and sequence of the republished event on EVENTS. */
  subject: string;
  seq: number;
  /** Channels the replayed event names, when it was narrowed to those that had not taken it. */
  channels?: string[];
}

export interface ReplayAllResult {
  replayed: ReplayResult[];
  failed: Array<{ dlqSeq: number; error: string }>;
}

/**
 * The dead-letter stream (EVENTS_DLQ) over the event bus: the dispatcher adds to it; the
 * HTTP endpoints and the `dlq` command list and replay. A replay republishes the original
 * event onto EVENTS and then removes the dead letter.
 */
export class DeadLetterQueue {
  constructor(private readonly bus: EventBus) {}

  /** Stores a dead letter; resolves once the bus has it durably. */
  async add(deadLetter: DeadLetter): Promise<number> {
    const { seq } = await this.bus.publish(deadLetterSubject(this.bus.names, deadLetter.subject), deadLetter);
    return seq;
  }

  /** Up to `limit` dead letters from sequence `fromSeq` on, oldest first. */
  async list(fromSeq = 1, limit = PAGE): Promise<DeadLetterEntry[]> {
    const stored = await unavailableOnFailure(() => this.bus.read(this.bus.names.dlqStream, fromSeq, limit));
    return stored.map(toEntry);
  }

  /** The dead letter at `dlqSeq`, or undefined. */
  async get(dlqSeq: number): Promise<DeadLetterEntry | undefined> {
    const [stored] = await unavailableOnFailure(() => this.bus.read(this.bus.names.dlqStream, dlqSeq, 1));
    return stored?.seq === dlqSeq ? toEntry(stored) : undefined;
  }

  /**
   * Republishes the dead letter's event onto EVENTS and removes it from the DLQ. The
   * message id is new (JetStream's duplicate window would swallow the original id) but
   * fixed per dead letter, so replaying the same one twice in a row stores it once; the
   * channel publish still uses the event id as idempotency key.
   * Throws `not_found` for an unknown sequence, `bad_request` for a payload that was never a CloudEvent.
   */
  async replay(dlqSeq: number): Promise<ReplayResult> {
    const entry = await this.get(dlqSeq);
    if (entry === undefined) throw new SwitchboardError('not_found', `no dead letter with sequence ${dlqSeq}`);
    return this.replayEntry(entry);
  }

  /** Replays every dead letter, oldest first; one failure does not stop the others. */
  async replayAll(): Promise<ReplayAllResult> {
    const result: ReplayAllResult = { replayed: [], failed: [] };
    let from = 1;
    for (;;) {
      const page = await this.list(from, PAGE);
      if (page.length === 0) return result;
      for (const entry of page) {
        try {
          result.replayed.push(await this.replayEntry(entry));
        } catch (err) {
          if (!(err instanceof SwitchboardError) || err.code === 'unavailable') throw err;
          result.failed.push({ dlqSeq: entry.dlqSeq, error: err.message });
        }
      }
      from = page[page.length - 1].dlqSeq + 1;
    }
  }

  private async replayEntry(entry: DeadLetterEntry): Promise<ReplayResult> {
    const { deadLetter, dlqSeq } = entry;
    const original = deadLetter.event;
    if (original === undefined) {
      throw new SwitchboardError('bad_request', `dead letter ${dlqSeq} holds no CloudEvent (${deadLetter.reason}); it cannot be replayed`);
    }
    const event: CloudEvent = { ...original };
    const remaining = notYetDelivered(deadLetter);
    if (remaining !== undefined) event.channels = remaining.join(',');
    const subject = originalSubject(this.bus.names, entry.dlqSubject);
    const { seq } = await this.bus.publish(subject, event, { msgId: `dlq-replay:${dlqSeq}:${original.id}` });
    await unavailableOnFailure(() => this.bus.remove(this.bus.names.dlqStream, dlqSeq));
    return { dlqSeq, eventId: original.id, subject, seq, ...(remaining === undefined ? {} : { channels: remaining }) };
  }
}

/** Channels still owed the event when some took it before it was dead-lettered; undefined to route it afresh. */
function notYetDelivered(deadLetter: DeadLetter): string[] | undefined {
  const delivered = deadLetter.delivered ?? [];
  if (delivered.length === 0 || deadLetter.channels === undefined) return undefined;
  const remaining = deadLetter.channels.filter((c) => !delivered.includes(c));
  return remaining.length > 0 ? remaining : undefined;
}

/** Bus failures become `unavailable` (HTTP 503) instead of an internal error. */
async function unavailableOnFailure<T>(operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (err) {
    if (err instanceof SwitchboardError) throw err;
    throw new SwitchboardError('unavailable', 'the dead-letter stream cannot be reached', { cause: err });
  }
}

function toEntry(stored: StoredEvent): DeadLetterEntry {
  let deadLetter: DeadLetter;
  try {
    deadLetter = JSON.parse(decoder.decode(stored.data)) as DeadLetter;
  } catch {
    // Someone else's message on our subjects: show it, never crash the listing.
    deadLetter = {
      reason: 'invalid_event',
      error: 'dead letter is not JSON',
      deliveryCount: 0,
      subject: '',
      seq: 0,
      storedAt: new Date(stored.storedAt).toISOString(),
      deadLetteredAt: new Date(stored.storedAt).toISOString(),
      raw: Buffer.from(stored.data).toString('base64'),
    };
  }
  return { dlqSeq: stored.seq, dlqSubject: stored.subject, deadLetter };
}
