import { BusListener } from '../fanout-bus';
import { PresenceInfo, PresenceTransition } from './presence-store';

/**
 * A join or leave for a channel's subscribers (SPEC: `{"op":"join",channel,user,info}`
 * when a user's first connection joins, `{"op":"leave",channel,user}` when its last one
 * leaves). No offset, never replayed.
 */
export interface PresenceSignal {
  op: 'join' | 'leave';
  channel: string;
  user: string;
  /** `join` only. */
  info?: PresenceInfo;
  /** Order of the transition behind it (see `PresenceTransition`): receivers drop stale and repeated signals. */
  epoch: string;
  seq: number;
  /** The WebSocket frame, encoded once by the gateway that decided it. */
  json: string;
}

/** The signal of a member transition; undefined for channel transitions. */
export function signalOf(t: PresenceTransition): PresenceSignal | undefined {
  if (t.type === 'member.added') {
    const json = JSON.stringify({ op: 'join', channel: t.channel, user: t.user, info: t.info });
    return { op: 'join', channel: t.channel, user: t.user!, info: t.info, epoch: t.epoch, seq: t.seq, json };
  }
  if (t.type === 'member.removed') {
    const json = JSON.stringify({ op: 'leave', channel: t.channel, user: t.user });
    return { op: 'leave', channel: t.channel, user: t.user!, epoch: t.epoch, seq: t.seq, json };
  }
  return undefined;
}

/**
 * Carries join/leave signals between gateways, next to the fan-out bus: whoever decides a
 * member transition announces it, every gateway listening on the channel receives it.
 * At most once per announcement (a signal lost to a disconnect is not replayed: clients
 * re-query presence after reconnecting); a transition may be announced more than once
 * (a retried delivery), which `PresenceService.listen` filters out.
 * Implementations: memory/ (in process), nats-redis/ (NATS core, one subject per channel).
 */
export interface PresenceSignalBus {
  /** Throws when the bus cannot take the signal (closed). */
  announce(signal: PresenceSignal): void;
  /** Resolves once the server has every signal announced before (so acknowledging them after is safe). */
  flush(): Promise<void>;
  /** Resolves once the bus has registered the interest. */
  listen(channel: string, onSignal: (signal: PresenceSignal) => void): Promise<BusListener>;
  /** Called after the bus reconnected (signals sent meanwhile are lost). */
  onResumed(callback: () => void): void;
  isReady(): boolean;
  close(): Promise<void>;
}
