import type { EventBus } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { randomUUID } from 'node:crypto';

/** What a `client_event` webhook says (Pusher's fields). */
export interface ClientEventRecord {
  channel: string;
  event: string;
  data: string;
  socket_id: string;
  user_id?: string;
}

export interface ClientEventWebhookOptions {
  /** Waits between attempts; the store is tried once more than its length. */
  retryDelaysMs: readonly number[];
  /** Records waiting for a retry at most; past it a failed store is counted lost at once (memory stays bounded in an outage). */
  maxPending: number;
}

/**
 * A retry run well inside JetStream's duplicate window (DUPLICATE_WINDOW_SECONDS, 2 min by
 * default): every attempt carries the same message id, so a store that succeeded but whose
 * ack was lost is not stored twice.
 */
export const CLIENT_EVENT_WEBHOOK_RETRY: ClientEventWebhookOptions = { retryDelaysMs: [250, 1000, 4000, 15000], maxPending: 10_000 };

/**
 * Client events as CloudEvents `switchboard.pusher.client_event` on EVENTS, where the
 * notifier's outbound engine turns them into Pusher `client_event` webhooks. The event
 * itself was already delivered to the channel; storing its webhook is retried through a
 * NATS outage of up to ~20 s, and a record that still cannot be stored is logged and
 * counted (`switchboard_pusher_client_event_webhooks_lost_total`), never dropped silently.
 */
export function clientEventPublisher(
  bus: EventBus,
  logger: Logger,
  lost: () => void,
  options: ClientEventWebhookOptions = CLIENT_EVENT_WEBHOOK_RETRY,
): (record: ClientEventRecord) => void {
  const subject = `${bus.names.eventsSubjectPrefix}.switchboard.pusher.client_event`;
  let pending = 0;

  const store = async (event: object, id: string, channel: string): Promise<void> => {
    for (let attempt = 0; ; attempt++) {
      try {
        await bus.publish(subject, event, { msgId: id });
        return;
      } catch (err) {
        const delay = options.retryDelaysMs[attempt];
        if (delay === undefined || pending >= options.maxPending) {
          lost();
          logger.error({ err, channel, id, attempts: attempt + 1 }, 'client_event webhook lost: EVENTS did not store it');
          return;
        }
        if (attempt === 0) logger.warn({ err, channel, id }, 'client_event webhook not stored yet; retrying');
        pending++;
        await new Promise((resolve) => setTimeout(resolve, delay).unref());
        pending--;
      }
    }
  };

  return (record) => {
    const id = randomUUID();
    const event = {
      specversion: '1.0',
      id,
      source: 'switchboard/gateway',
      type: 'switchboard.pusher.client_event',
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data: record,
    };
    void store(event, id, record.channel);
  };
}
