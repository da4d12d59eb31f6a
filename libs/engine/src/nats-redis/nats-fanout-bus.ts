import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { EngineLogger, noopLogger } from '../engine-options';
import { BusListener, FanoutBus } from '../fanout-bus';
import { NatsHealth } from './nats-health';
import { StoredMessage } from '../stored-message';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The NATS core subject of a channel. Channel names are valid dot-separated subject tokens
 * by construction (no leading, trailing or double `.`, no `*`, `>` or whitespace), so the
 * mapping is the identity under a prefix and two channels never share a subject.
 */
export function channelSubject(prefix: string, channel: string): string {
  return prefix + '.' + channel;
}

/**
 * Announcement payload: one header line `<offset> <epoch> <receivedAt>` and the message
 * JSON, so receivers order messages without parsing the JSON.
 */
export function encodeAnnouncement(m: StoredMessage): Uint8Array {
  return encoder.encode(m.offset + ' ' + m.epoch + ' ' + m.receivedAt + '\n' + m.json);
}

export function decodeAnnouncement(channel: string, payload: Uint8Array): StoredMessage | undefined {
  const text = decoder.decode(payload);
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  const [offset, epoch, receivedAt] = text.slice(0, nl).split(' ');
  const o = Number(offset);
  if (!Number.isSafeInteger(o) || o < 1 || !epoch) return undefined;
  return new StoredMessage(channel, o, epoch, text.slice(nl + 1), Number(receivedAt) || 0);
}

/** Fan-out on NATS core: one subject per channel, subscribed only while a local subscriber holds it. */
export class NatsFanoutBus implements FanoutBus {
  private readonly subs = new Set<Subscription>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly health: NatsHealth,
    private readonly subjectPrefix = 'sb.ch',
    private readonly logger: EngineLogger = noopLogger,
  ) {}

  announce(message: StoredMessage): void {
    this.nc.publish(channelSubject(this.subjectPrefix, message.channel), encodeAnnouncement(message));
  }

  async listen(channel: string, onMessage: (m: StoredMessage) => void): Promise<BusListener> {
    const sub = this.nc.subscribe(channelSubject(this.subjectPrefix, channel), {
      callback: (err, msg) => {
        if (err) {
          this.logger.warn({ err, channel }, 'fan-out subscription error');
          return;
        }
        const m = decodeAnnouncement(channel, msg.data);
        if (m === undefined) this.logger.warn({ channel }, 'malformed fan-out announcement dropped');
        else onMessage(m);
      },
    });
    this.subs.add(sub);
    // The server has the interest once a round trip after the SUB completes.
    await this.nc.flush();
    return {
      close: () => {
        if (!this.subs.delete(sub)) return;
        if (!this.nc.isClosed()) sub.unsubscribe();
      },
    };
  }

  onResumed(callback: () => void): void {
    this.health.onReconnect(callback);
  }

  listenerCount(): number {
    return this.subs.size;
  }

  isReady(): boolean {
    return this.health.isConnected();
  }

  async close(): Promise<void> {
    for (const sub of this.subs) if (!this.nc.isClosed()) sub.unsubscribe();
    this.subs.clear();
  }
}
