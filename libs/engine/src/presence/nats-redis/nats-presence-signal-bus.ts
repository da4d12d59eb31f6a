import type { NatsConnection, Subscription } from '@nats-io/nats-core';
import { EngineLogger, noopLogger } from '../../engine-options';
import { BusListener } from '../../fanout-bus';
import { NatsHealth } from '../../nats-redis/nats-health';
import { PresenceInfo } from '../presence-store';
import { PresenceSignal, PresenceSignalBus } from '../presence-signal-bus';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The NATS subject of a channel's join/leave signals: `<NATS_SUBJECT_PREFIX>_presence.<channel>`,
 * beside the channel's fan-out subject `<NATS_SUBJECT_PREFIX>.<channel>` and never under it
 * (the first differing token is `<last prefix token>_presence`).
 */
export function presenceSubject(subjectPrefix: string, channel: string): string {
  return subjectPrefix + '_presence.' + channel;
}

/** Payload: a header line `<epoch> <seq>` and the client frame JSON. */
export function encodeSignal(s: PresenceSignal): Uint8Array {
  return encoder.encode(s.epoch + ' ' + s.seq + '\n' + s.json);
}

export function decodeSignal(channel: string, payload: Uint8Array): PresenceSignal | undefined {
  const text = decoder.decode(payload);
  const nl = text.indexOf('\n');
  if (nl < 0) return undefined;
  const [epoch, seqText] = text.slice(0, nl).split(' ');
  const seq = Number(seqText);
  if (!epoch || !Number.isSafeInteger(seq)) return undefined;
  const json = text.slice(nl + 1);
  let frame: { op?: unknown; user?: unknown; info?: unknown; channel?: unknown };
  try {
    frame = JSON.parse(json) as typeof frame;
  } catch {
    return undefined;
  }
  if ((frame.op !== 'join' && frame.op !== 'leave') || typeof frame.user !== 'string' || frame.channel !== channel) return undefined;
  const signal: PresenceSignal = { op: frame.op, channel, user: frame.user, epoch, seq, json };
  if (frame.op === 'join') signal.info = frame.info as PresenceInfo;
  return signal;
}

/** Join/leave signals on NATS core, one subject per channel, subscribed while a gateway holds the channel. */
export class NatsPresenceSignalBus implements PresenceSignalBus {
  private readonly subs = new Set<Subscription>();

  constructor(
    private readonly nc: NatsConnection,
    private readonly health: NatsHealth,
    /** NATS_SUBJECT_PREFIX. */
    private readonly subjectPrefix = 'sb.ch',
    private readonly logger: EngineLogger = noopLogger,
  ) {}

  announce(signal: PresenceSignal): void {
    this.nc.publish(presenceSubject(this.subjectPrefix, signal.channel), encodeSignal(signal));
  }

  async flush(): Promise<void> {
    await this.nc.flush();
  }

  async listen(channel: string, onSignal: (s: PresenceSignal) => void): Promise<BusListener> {
    const sub = this.nc.subscribe(presenceSubject(this.subjectPrefix, channel), {
      callback: (err, msg) => {
        if (err) {
          this.logger.warn({ err, channel }, 'presence signal subscription error');
          return;
        }
        const signal = decodeSignal(channel, msg.data);
        if (signal === undefined) this.logger.warn({ channel }, 'malformed presence signal dropped');
        else onSignal(signal);
      },
    });
    this.subs.add(sub);
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

  isReady(): boolean {
    return this.health.isConnected();
  }

  async close(): Promise<void> {
    for (const sub of this.subs) if (!this.nc.isClosed()) sub.unsubscribe();
    this.subs.clear();
  }
}
