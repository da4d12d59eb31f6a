import type { CloudEvent, EngineLogger, EventBus } from '@switchboard/engine';
import type { DisabledReason } from '../endpoints/endpoint';

/** Types of the platform notices the outbound engine publishes on EVENTS. */
export const NOTICE_TYPES = {
  exhausted: 'switchboard.webhook.exhausted',
  disabled: 'switchboard.endpoint.disabled',
} as const;

/** `data` of `switchboard.webhook.exhausted`: a message used up its attempts and is a dead letter. */
export interface WebhookExhaustedData {
  endpointId: string;
  url: string;
  webhookId: string;
  eventId: string;
  eventType: string;
  attempts: number;
  statusCode?: number;
  error?: string;
}

/** `data` of `switchboard.endpoint.disabled`. */
export interface EndpointDisabledData {
  endpointId: string;
  url: string;
  reason: DisabledReason;
  /** Failing since (reason `failing`). */
  failingSince?: string;
  /** The answer that disabled it (reason `gone`: 410). */
  statusCode?: number;
}

/** The endpoint a notice is about: never delivered to that same endpoint (it would feed on its own failures). */
export function noticeSubject(type: string, data: unknown): string | undefined {
  if (type !== NOTICE_TYPES.exhausted && type !== NOTICE_TYPES.disabled) return undefined;
  const id = (data as { endpointId?: unknown } | null)?.endpointId;
  return typeof id === 'string' ? id : undefined;
}

/**
 * Publishes the engine's notices as CloudEvents on EVENTS (`<prefix>.switchboard.…`), where
 * routes, channels and other endpoints can take them like any event. The id (and
 * Nats-Msg-Id) is fixed per fact, so a repeated attempt after a crash stores it once.
 */
export class OutboundNotices {
  constructor(
    private readonly bus: EventBus,
    private readonly logger: EngineLogger,
  ) {}

  /** `run` tells a replay's exhaustion from the first run's (each is announced). */
  exhausted(run: string | undefined, data: WebhookExhaustedData): Promise<void> {
    return this.publish(NOTICE_TYPES.exhausted, `exhausted:${data.webhookId}${run === undefined ? '' : ':' + run}`, data);
  }

  disabled(data: EndpointDisabledData, disabledAt: string): Promise<void> {
    return this.publish(NOTICE_TYPES.disabled, `disabled:${data.endpointId}:${disabledAt}`, data);
  }

  private async publish(type: string, id: string, data: WebhookExhaustedData | EndpointDisabledData): Promise<void> {
    const event: CloudEvent = {
      specversion: '1.0',
      id,
      source: 'switchboard/notifier',
      type,
      time: new Date().toISOString(),
      datacontenttype: 'application/json',
      data,
    };
    try {
      await this.bus.publish(`${this.bus.names.eventsSubjectPrefix}.${type}`, event, { msgId: id });
    } catch (err) {
      // The dead letter or the registry already holds the fact; the notice is its announcement.
      this.logger.error({ type, id, err: err instanceof Error ? err.message : String(err) }, 'outbound notice not published');
    }
  }
}
