import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ChannelOptions, PresenceListener, PresenceMember, PresenceService, PresenceSignal } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import type { PresenceReply } from '@switchboard/protocol';

export const PRESENCE_SERVICE = Symbol('PresenceService');

/** A presence query's answer as every transport sends it (the WS reply without `op`/`id`). */
export type PresenceAnswer = Omit<PresenceReply, 'op' | 'id'>;

/**
 * One join/leave signal on its way to this process's subscribers of the channel. Each
 * transport's encoding is built the first time a recipient of that transport asks for it
 * and then shared: one encoding per broadcast and transport, nothing per recipient.
 */
export class PresenceNotice {
  private wsFrame?: Buffer;
  private sseEvent?: string;
  private socketIoPacket?: string;
  private others?: Map<PresenceNoticeEncoder<unknown>, unknown>;

  constructor(readonly signal: PresenceSignal) {}

  get op(): 'join' | 'leave' {
    return this.signal.op;
  }

  /** `{"op":"join"|"leave","channel","user","info"?}` (the gateway that decided it encoded it once). */
  get json(): string {
    return this.signal.json;
  }

  /** The WebSocket text frame's payload. */
  get ws(): Buffer {
    return (this.wsFrame ??= Buffer.from(this.signal.json, 'utf8'));
  }

  /** `event: join|leave` with the JSON as data. */
  get sse(): string {
    return (this.sseEvent ??= 'event: ' + this.signal.op + '\ndata: ' + this.signal.json + '\n\n');
  }

  /** Another protocol's encoding (e.g. Pusher's `member_added`), built once per notice and encoder. */
  encoded<T>(encoder: PresenceNoticeEncoder<T>): T {
    const others = (this.others ??= new Map());
    if (!others.has(encoder)) others.set(encoder, encoder.encode(this.signal));
    return others.get(encoder) as T;
  }

  /** The Socket.IO EVENT packet `2["join"|"leave",<json>]`. */
  get socketIo(): string {
    return (this.socketIoPacket ??= '2["' + this.signal.op + '",' + this.signal.json + ']');
  }
}

/** Encodes a join/leave for one protocol (one shared instance per transport, the memo's key). */
export interface PresenceNoticeEncoder<T> {
  encode(signal: PresenceSignal): T;
}

/** A local subscriber that takes join/leave (a session of a channel with `joinLeave`). */
export interface PresenceRecipient {
  presenceNotice(notice: PresenceNotice): void;
}

interface Watched {
  readonly recipients: Set<PresenceRecipient>;
  listener?: Promise<PresenceListener | undefined>;
}

/**
 * The gateway's side of presence: the process's `PresenceService` (store, leases,
 * transitions) plus local fan-out of join/leave — one signal subscription per channel
 * with local recipients, whatever their number and transport.
 */
@Injectable()
export class PresenceHub implements OnApplicationShutdown {
  private readonly watched = new Map<string, Watched>();

  constructor(
    @Inject(PRESENCE_SERVICE) readonly service: PresenceService,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  channelOptions(channel: string): ChannelOptions {
    return this.service.channelOptions(channel);
  }

  /** `connection` holds `channel` as `member` (a no-op for channels without presence). */
  join(channel: string, connection: string, member: PresenceMember): Promise<void> {
    return this.service.join(channel, connection, member);
  }

  leave(channel: string, connection: string): void {
    this.service
      .leave(channel, connection)
      .catch((err: unknown) => this.logger.warn({ err, channel }, 'presence leave not stored yet; retried'));
  }

  leaveAll(connection: string): void {
    this.service.leaveAll(connection).catch((err: unknown) => this.logger.warn({ err }, 'presence leaves not stored yet; retried'));
  }

  /** Who is in `channel`: counts exact, members capped at PRESENCE_MAX_MEMBERS. `not_found` when presence is off. */
  async query(channel: string): Promise<PresenceAnswer> {
    const s = await this.service.query(channel);
    const answer: PresenceAnswer = { channel, count: s.count, connections: s.connections, members: s.members };
    if (s.truncated) answer.truncated = true;
    return answer;
  }

  /**
   * The same answer as JSON (`{channel, count, connections, members, truncated?}`), with the
   * store's member list embedded as the store built it: never parsed and serialised again.
   */
  async queryJson(channel: string): Promise<string> {
    const s = await this.service.query(channel);
    return (
      `{"channel":${JSON.stringify(channel)},"count":${s.count},"connections":${s.connections},"members":${s.membersJson}` +
      (s.truncated ? ',"truncated":true}' : '}')
    );
  }

  /** Starts delivering `channel`'s join/leave to `recipient`; resolves once the signals flow. */
  async watch(channel: string, recipient: PresenceRecipient): Promise<void> {
    let w = this.watched.get(channel);
    if (w === undefined) {
      const created: Watched = { recipients: new Set() };
      w = created;
      this.watched.set(channel, created);
      created.listener = this.service
        .listen(channel, (s) => this.dispatch(created, s))
        .catch((err: unknown) => {
          this.logger.warn({ err, channel }, 'join/leave signals not received for this channel');
          if (this.watched.get(channel) === created) this.watched.delete(channel);
          return undefined;
        });
    }
    w.recipients.add(recipient);
    await w.listener;
  }

  unwatch(channel: string, recipient: PresenceRecipient): void {
    const w = this.watched.get(channel);
    if (w === undefined || !w.recipients.delete(recipient) || w.recipients.size > 0) return;
    this.watched.delete(channel);
    void w.listener?.then((l) => l?.close());
  }

  /** Local recipients of join/leave on `channel` (the inspector). */
  recipients(channel: string): number {
    return this.watched.get(channel)?.recipients.size ?? 0;
  }

  /** After the drain closed the connections: leave what is left, drop the lease. */
  async onApplicationShutdown(): Promise<void> {
    await this.service.close();
  }

  private dispatch(w: Watched, signal: PresenceSignal): void {
    const notice = new PresenceNotice(signal);
    for (const r of w.recipients) r.presenceNotice(notice);
  }
}
