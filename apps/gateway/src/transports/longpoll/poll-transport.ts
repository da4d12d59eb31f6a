import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { MessageEncoder, StoredMessage } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import { encodeCursor, isSwitchboardError, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { originAllowed, tokenFromHeaderOr } from '../../auth/request-auth';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { ClientSession, SubscribeOptions } from '../../hub/client-session';
import { ConnectionRegistry } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import { EndReason, SessionTransport } from '../../hub/session-transport';
import { applyCors, rawQueryOf, sendError } from '../http/channel-request';
import { Held, HOLD_TICK_MS, HoldLane, HoldQueue } from './hold-queue';
import { PollQueryCache } from './poll-query';

/** Room kept in MAX_RESPONSE_BYTES for the body's envelope beyond the cursor and the lost list. */
const ENVELOPE_BYTES = 64;
/**
 * A held poll watches its token's expiry on the wheel only when it comes before the hold's
 * end plus this margin (the hold queue's tick and some event-loop lag); a poll answered
 * later still checks the clock before it writes.
 */
const EXPIRY_WATCH_MARGIN_MS = 1000 + HOLD_TICK_MS;
/**
 * A poll's channels stay held for the client's next poll, which follows its answer at once
 * (the SDK's does): this process's feed of a channel outlives the last answered poll by this
 * much, so the next polls find it at their position and join it without a store read
 * (`joinAtLocalHead`) instead of each reading the store and subscribing anew.
 */
const POLL_FEED_LINGER_MS = 5000;
const POLL_SUBSCRIBE: SubscribeOptions = { lingerMs: POLL_FEED_LINGER_MS };

/**
 * The last body written, shared by every poll that answers the same thing: the polls held
 * on a channel at one position get the same messages in a broadcast, so the body (its
 * cursor, the join, its byte length) is built once per broadcast, not once per recipient.
 */
interface SharedBody {
  key: string;
  /** The messages' JSON (each message's string is encoded once and shared: compared by identity first). */
  messages: string[];
  body: string;
  /** The answer's headers, as `writeHead` takes them flat (built once per body too). */
  headers: string[];
}

/** The headers of a 200 answer of `body`. */
function answerHeaders(body: string): string[] {
  return ['Content-Type', 'application/json', 'Cache-Control', 'no-store', 'Content-Length', String(Buffer.byteLength(body))];
}

/**
 * What one poll answers: whole messages, in order, within MAX_RESPONSE_BYTES; the cursor
 * after the last one included, so the client's next poll starts exactly there.
 */
class PollAnswer {
  readonly messages: string[] = [];
  readonly lost: string[] = [];
  /** No further message fits: answer now, the client polls again at once. */
  full = false;
  /** Bytes of the body so far, the envelope's included (reserved once the positions are known). */
  private bytes = -1;

  constructor(
    readonly positions: Map<string, StreamPosition>,
    private readonly maxBytes: number,
    /**
     * What decides the body besides its messages: the request's channels and cursor (when
     * every channel's position came from the cursor), else undefined (the body is not shared).
     */
    readonly key: string | undefined,
    private readonly cache: { envelope?: { key: string; bytes: number } },
  ) {}

  /** Adds a message unless the answer is full; the first message always fits. */
  add(m: StoredMessage, json: string): boolean {
    if (this.full) return false;
    if (this.bytes < 0) this.bytes = this.envelopeBytes();
    const size = Buffer.byteLength(json) + 1;
    if (this.messages.length > 0 && this.bytes + size > this.maxBytes) {
      this.full = true;
      return false;
    }
    this.bytes += size;
    this.messages.push(json);
    const p = this.positions.get(m.channel)!;
    p.offset = m.offset;
    p.epoch = m.epoch;
    return true;
  }

  /** `channel` could not be resumed completely; its position moves to `position` (what history still has follows). */
  markLost(channel: string, position: StreamPosition): void {
    if (!this.lost.includes(channel)) this.lost.push(channel);
    const p = this.positions.get(channel)!;
    p.offset = position.offset;
    p.epoch = position.epoch;
  }

  /**
   * The body without messages, at its largest: the cursor grows only by offset digits (at
   * most 16 per channel, base64 adding a third), and the lost list names at most every channel.
   * It depends on the channels and starting positions only: polls with the same key share it.
   */
  private envelopeBytes(): number {
    const cached = this.cache.envelope;
    if (this.key !== undefined && cached?.key === this.key) return cached.bytes;
    let names = 0;
    for (const channel of this.positions.keys()) names += Buffer.byteLength(JSON.stringify(channel)) + 1;
    const bytes = ENVELOPE_BYTES + encodeCursor(this.positions).length + Math.ceil((16 * this.positions.size * 4) / 3) + names;
    if (this.key !== undefined) this.cache.envelope = { key: this.key, bytes };
    return bytes;
  }

  get isEmpty(): boolean {
    return this.messages.length === 0 && this.lost.length === 0;
  }

  /**
   * The body, built by concatenation (message JSON is never re-serialised), or the last
   * one built when this answer is the same: same key (channels and starting positions), no
   * loss, and the same messages in the same order (then the cursor is the same too).
   */
  body(shared: { body?: SharedBody }): { body: string; headers: string[] } {
    const messages = this.messages;
    const shareable = this.key !== undefined && this.lost.length === 0 && messages.length > 0;
    const previous = shared.body;
    if (shareable && previous !== undefined && previous.key === this.key && sameStrings(previous.messages, messages)) return previous;
    let body = '{"messages":[' + messages.join(',') + '],"cursor":"' + encodeCursor(this.positions) + '"';
    if (this.lost.length > 0) body += ',"recovered":false,"lost":' + JSON.stringify(this.lost);
    body += '}';
    const headers = answerHeaders(body);
    if (shareable) shared.body = { key: this.key, messages, body, headers };
    return { body, headers };
  }
}

/** One poll request: answers once, at once or when something arrives while it is held. */
class PollConnection implements SessionTransport, Held {
  readonly transport = 'poll' as const;
  session!: ClientSession;
  private answered = false;
  /** In the transport's batch of answers due after this I/O turn. */
  private due = false;
  holdEnd = 0;
  holdPrev: Held | undefined = undefined;
  holdNext: Held | undefined = undefined;
  holdLane: HoldLane | undefined = undefined;

  constructor(
    private readonly res: ServerResponse,
    private readonly answer: PollAnswer,
    private readonly json: MessageEncoder<string>,
    private readonly owner: PollTransport,
  ) {
    res.on('close', () => this.finish());
  }

  /** Holds for up to `timeoutSeconds` (the session subscribes next). */
  hold(timeoutSeconds: number): void {
    const ms = timeoutSeconds * 1000;
    this.owner.holds.hold(this, ms);
    this.session.watchExpiryUntil(Date.now() + ms + EXPIRY_WATCH_MARGIN_MS);
  }

  /** The hold's `timeout` passed: answer with what there is (nothing). */
  holdEnded(): void {
    this.respond();
  }

  deliver(m: StoredMessage): void {
    if (this.answered) return;
    if (!this.answer.add(m, m.encoded(this.json))) this.respond();
    else this.soon();
  }

  lost(channel: string): void {
    if (this.answered) return;
    this.answer.markLost(channel, this.answer.positions.get(channel)!);
    this.soon();
  }

  /** A poll's channels are fixed by its request: answer with what it has. */
  unsubscribed(): void {
    this.respond();
  }

  /** A poll's answer is bounded by MAX_RESPONSE_BYTES and written once; nothing queues behind it. */
  queuedBytes(): number {
    return 0;
  }

  end(reason: EndReason): void {
    if (reason === 'expired') {
      if (this.finish()) sendError(this.res, new SwitchboardError('unauthorized', 'token expired'));
      return;
    }
    this.respond();
  }

  /** Writes the answer (once) and ends the session; past the token's deadline the answer is 401. */
  respond(): void {
    if (this.session.isExpired) {
      this.session.expire();
      return;
    }
    if (!this.finish() || this.res.destroyed) return;
    const hub = this.owner.hub;
    if (this.answer.full) hub.metrics.limitHits.inc({ limit: 'max_response_bytes', transport: 'poll' });
    const { body, headers } = this.answer.body(this.owner.shared);
    this.res.writeHead(200, headers);
    this.res.end(body);
    hub.countDelivered('poll', this.answer.messages.length);
  }

  /**
   * Answers after the current I/O turn: messages arriving together go in one answer; what
   * arrives while the client polls again is read from history by that poll. One immediate
   * for every poll answered in the turn (a broadcast), not one per poll.
   */
  private soon(): void {
    if (this.due) return;
    this.due = true;
    this.owner.answerSoon(this);
  }

  /** Ends the hold once: timers and the session. False if it had ended. */
  private finish(): boolean {
    if (this.answered) return false;
    this.answered = true;
    this.owner.holds.release(this);
    this.session?.close();
    return true;
  }
}

/**
 * `GET /v1/poll`: stateless long-poll over a short-lived session. The cursor carries every
 * position, so any instance answers any poll. With messages after the cursor it answers at
 * once (as many as MAX_RESPONSE_BYTES holds); otherwise the session subscribes from the
 * cursor (which re-reads history after the subscription is in place, so nothing that lands
 * in between is missed) and the poll is held up to `timeout` seconds.
 */
@Injectable()
export class PollTransport implements OnApplicationShutdown {
  private readonly json: MessageEncoder<string>;
  /** The last body built and the last envelope bound, shared by answers that are the same (see PollAnswer). */
  readonly shared: { body?: SharedBody; envelope?: { key: string; bytes: number } } = {};
  /** Every held poll, ended at its `timeout` by one timer. */
  readonly holds = new HoldQueue();
  /** Parsed query strings: the polls of one fan-out repeat the same one. */
  private readonly queries: PollQueryCache;
  /** Held polls to answer after this I/O turn. */
  private due: PollConnection[] = [];
  private batch?: NodeJS.Immediate;

  constructor(
    readonly hub: Hub,
    private readonly verifier: GatewayTokenVerifier,
    private readonly registry: ConnectionRegistry,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.json = hub.timedEncoder('poll', (m) => m.json);
    this.queries = new PollQueryCache(hub.options.pollTimeoutSeconds);
  }

  onApplicationShutdown(): void {
    this.holds.close();
  }

  /** Queues `connection`'s answer for the end of this I/O turn (one immediate for all of them). */
  answerSoon(connection: PollConnection): void {
    this.due.push(connection);
    this.batch ??= setImmediate(() => this.answerDue());
  }

  private answerDue(): void {
    const due = this.due;
    this.due = [];
    this.batch = undefined;
    // respond() is idempotent: a poll that ended meanwhile (closed, expired) is skipped.
    for (let i = 0; i < due.length; i++) due[i].respond();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const { options, engine } = this.hub;
    if (applyCors(req, res, options)) return;
    let session: ClientSession | undefined;
    try {
      // In SSE's order (parseChannelRequest): origin, token, then the query's own problems,
      // so an anonymous caller learns nothing about channels.
      const parsed = this.queries.parse(rawQueryOf(req.url ?? '/'));
      if (!originAllowed(req, options.allowedOrigins)) throw new SwitchboardError('forbidden', 'origin not allowed');
      const token = tokenFromHeaderOr(req, parsed.token);
      // A token verified earlier is taken without a promise (the same checks as verify's).
      const principal = this.verifier.cached(token) ?? (await this.verifier.verify(token));
      const query = parsed.query;
      if (query === undefined) throw parsed.problem!;
      const { channels, cursor, fresh, timeout } = query;
      const positions = new Map<string, StreamPosition>();
      // Polls of the same channels from the same cursor answer the same body (see PollAnswer).
      const answer = new PollAnswer(positions, options.maxResponseBytes, query.key, this.shared);
      const connection = new PollConnection(res, answer, this.json, this);
      // The token's expiry is watched only while the poll holds, and only if it comes first (see hold).
      session = this.hub.openSession(principal, connection, { request: req, register: false, watchExpiryUntil: 0 });
      connection.session = session;
      session.checkChannels(channels);
      // Channels absent from the cursor start at their current position.
      const current = fresh.length > 0 ? await session.positions(fresh) : undefined;
      for (const channel of channels) {
        const p = cursor?.get(channel) ?? current![fresh.indexOf(channel)];
        positions.set(channel, { offset: p.offset, epoch: p.epoch });
      }
      // The backlog, one channel at a time: memory stays within one channel's history plus the
      // answer. (Indexed loops here and below: an iterator kept across an await is allocated per poll.)
      for (let i = 0; i < channels.length; i++) {
        const channel = channels[i];
        const since = cursor?.get(channel);
        if (since === undefined) continue;
        if (answer.full) break;
        // Where this process's feed of the channel is (the cursor every poll of a broadcast
        // carries): nothing after it has reached this process, and the subscription below
        // joins the feed there.
        if (engine.isAtLocalHead(channel, since)) continue;
        // A message or a few behind it (a poll of the broadcast before): what the feed
        // delivered and still holds, without a store read or an await.
        const recent = engine.recentAfter(channel, since);
        if (recent !== undefined) {
          for (let k = 0; k < recent.length; k++) if (!answer.add(recent[k], recent[k].encoded(this.json))) break;
          continue;
        }
        const history = await session.history(channel, since);
        if (!history.recovered) {
          const first = history.messages[0];
          answer.markLost(channel, first === undefined ? history.position : { offset: first.offset - 1, epoch: first.epoch });
        }
        for (const m of history.messages) if (!answer.add(m, m.encoded(this.json))) break;
      }
      if (!answer.isEmpty || timeout === 0 || cursor === undefined || this.registry.isDraining) {
        connection.respond();
        return;
      }
      this.registry.admit('poll');
      session.register();
      connection.hold(timeout);
      for (let i = 0; i < channels.length; i++) {
        if (session.isClosed) break;
        const channel = channels[i];
        const since = positions.get(channel)!;
        // At the feed's head (the next poll of a broadcast) at once, with nothing to read.
        if (session.joinAtLocalHead(channel, since, POLL_FEED_LINGER_MS)) continue;
        await session.subscribe(
          channel,
          { offset: since.offset, epoch: since.epoch },
          (outcome) => {
            if (outcome.recovered === false) connection.lost(channel);
          },
          POLL_SUBSCRIBE,
        );
      }
    } catch (err) {
      session?.close();
      if (res.headersSent) return;
      if (isSwitchboardError(err)) sendError(res, err);
      else {
        this.logger.error({ err }, 'poll request failed');
        sendError(res, new SwitchboardError('unavailable', 'internal error'));
      }
    }
  }
}

function sameStrings(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
