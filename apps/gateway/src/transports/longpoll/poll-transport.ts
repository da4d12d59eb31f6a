import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { MessageEncoder, StoredMessage } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import { encodePositions, isSwitchboardError, StreamPosition, SwitchboardError } from '@switchboard/protocol';
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
  messages: readonly string[];
  body: string;
  /** The answer's headers, as `writeHead` takes them flat (built once per body too). */
  headers: string[];
}

/**
 * A message as poll answers carry it, made once per message and shared by every poll it
 * answers: its JSON and that JSON's byte length plus the separator (the size bound's
 * arithmetic, otherwise a `Buffer.byteLength` per recipient).
 */
interface PollMessage {
  readonly json: string;
  readonly size: number;
}

/** The headers of a 200 answer of `body`. */
function answerHeaders(body: string): string[] {
  return ['Content-Type', 'application/json', 'Cache-Control', 'no-store', 'Content-Length', String(Buffer.byteLength(body))];
}

/** What every answer of the transport shares: the size bound and the last body and envelope built (see PollAnswer). */
interface AnswerContext {
  readonly maxBytes: number;
  readonly shared: { body?: SharedBody; envelope?: { key: string; bytes: number } };
}

/**
 * What one poll answers: whole messages, in order, within MAX_RESPONSE_BYTES; the cursor
 * after the last one included, so the client's next poll starts exactly there.
 *
 * A held poll keeps as little as it can (every scavenge copies what 2,000 held polls keep):
 * its positions are the query's own shared ones until a message or a loss moves one (then
 * a copy), and its message and loss lists are made with their first entry.
 */
class PollAnswer {
  private messageList?: string[];
  private lostList?: string[];
  /** No further message fits: answer now, the client polls again at once. */
  full = false;
  /** Bytes of the body so far, the envelope's included (reserved once the positions are known). */
  private bytes = -1;

  /** The position of each of `channels`, by index. */
  private positions: readonly StreamPosition[];
  /** True while `positions` is the parsed query's, shared with other polls: never written, copied first. */
  private borrowed = true;

  constructor(
    /** The request's channels (the parsed query's, shared). */
    readonly channels: readonly string[],
    /** The cursor's positions of `channels` (the parsed query's, shared); undefined ones are set by `startFresh`. */
    since: readonly (StreamPosition | undefined)[],
    /**
     * What decides the body besides its messages: the request's channels and cursor (when
     * every channel's position came from the cursor), else undefined (the body is not shared).
     */
    readonly key: string | undefined,
    private readonly context: AnswerContext,
  ) {
    this.positions = since as readonly StreamPosition[];
  }

  /** The channels absent from the cursor (`fresh`, in order) start at `current`, their positions now. */
  startFresh(fresh: readonly string[], current: readonly StreamPosition[]): void {
    const since = this.positions as readonly (StreamPosition | undefined)[];
    this.positions = this.channels.map((channel, i) => {
      const p = since[i] ?? current[fresh.indexOf(channel)];
      return { offset: p.offset, epoch: p.epoch };
    });
    this.borrowed = false;
  }

  get messages(): readonly string[] {
    return this.messageList ?? NONE;
  }

  /** The position of `channels[index]` so far (read only). */
  position(index: number): StreamPosition {
    return this.positions[index];
  }

  /** Adds a message unless the answer is full; the first message always fits. */
  add(m: StoredMessage, encoded: PollMessage): boolean {
    if (this.full) return false;
    if (this.bytes < 0) this.bytes = this.envelopeBytes();
    const messages = (this.messageList ??= []);
    if (messages.length > 0 && this.bytes + encoded.size > this.context.maxBytes) {
      this.full = true;
      return false;
    }
    this.bytes += encoded.size;
    messages.push(encoded.json);
    this.moveTo(m.channel, m.offset, m.epoch);
    return true;
  }

  /**
   * `channel` could not be resumed completely; its position moves to `position` when given
   * (what history still has follows).
   */
  markLost(channel: string, position?: StreamPosition): void {
    const lost = (this.lostList ??= []);
    if (!lost.includes(channel)) lost.push(channel);
    if (position !== undefined) this.moveTo(channel, position.offset, position.epoch);
  }

  private moveTo(channel: string, offset: number, epoch: string): void {
    if (this.borrowed) {
      this.positions = this.positions.map((p) => ({ offset: p.offset, epoch: p.epoch }));
      this.borrowed = false;
    }
    const p = this.positions[this.channels.indexOf(channel)];
    p.offset = offset;
    p.epoch = epoch;
  }

  /**
   * The body without messages, at its largest: the cursor grows only by offset digits (at
   * most 16 per channel, base64 adding a third), and the lost list names at most every channel.
   * It depends on the channels and starting positions only: polls with the same key share it.
   */
  private envelopeBytes(): number {
    const shared = this.context.shared;
    const cached = shared.envelope;
    if (this.key !== undefined && cached?.key === this.key) return cached.bytes;
    const channels = this.channels;
    let names = 0;
    for (let i = 0; i < channels.length; i++) names += Buffer.byteLength(JSON.stringify(channels[i])) + 1;
    const cursorBytes = encodePositions(channels, this.positions).length;
    const bytes = ENVELOPE_BYTES + cursorBytes + Math.ceil((16 * channels.length * 4) / 3) + names;
    if (this.key !== undefined) shared.envelope = { key: this.key, bytes };
    return bytes;
  }

  get isEmpty(): boolean {
    return this.messageList === undefined && this.lostList === undefined;
  }

  /**
   * The body, built by concatenation (message JSON is never re-serialised), or the last
   * one built when this answer is the same: same key (channels and starting positions), no
   * loss, and the same messages in the same order (then the cursor is the same too).
   */
  body(): { body: string; headers: string[] } {
    const messages = this.messages;
    const lost = this.lostList;
    const shared = this.context.shared;
    const shareable = this.key !== undefined && lost === undefined && messages.length > 0;
    const previous = shared.body;
    if (shareable && previous !== undefined && previous.key === this.key && sameStrings(previous.messages, messages)) return previous;
    let body = '{"messages":[' + messages.join(',') + '],"cursor":"' + encodePositions(this.channels, this.positions) + '"';
    if (lost !== undefined) body += ',"recovered":false,"lost":' + JSON.stringify(lost);
    body += '}';
    const headers = answerHeaders(body);
    if (shareable) shared.body = { key: this.key, messages, body, headers };
    return { body, headers };
  }
}

const NONE: readonly string[] = Object.freeze([]);

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
    private readonly encoder: MessageEncoder<PollMessage>,
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
    if (!this.answer.add(m, m.encoded(this.encoder))) this.respond();
    else this.soon();
  }

  lost(channel: string): void {
    if (this.answered) return;
    this.answer.markLost(channel);
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
    const { body, headers } = this.answer.body();
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
  private readonly encoder: MessageEncoder<PollMessage>;
  /** The size bound, and the last body built and the last envelope bound, shared by answers that are the same (see PollAnswer). */
  private readonly answers: AnswerContext;
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
    this.encoder = hub.timedEncoder('poll', (m): PollMessage => ({ json: m.json, size: Buffer.byteLength(m.json) + 1 }));
    this.answers = { maxBytes: hub.options.maxResponseBytes, shared: {} };
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
      const { channels, cursor, since, fresh, timeout } = query;
      // Polls of the same channels from the same cursor answer the same body (see PollAnswer).
      const answer = new PollAnswer(channels, since, query.key, this.answers);
      const connection = new PollConnection(res, answer, this.encoder, this);
      // The token's expiry is watched only while the poll holds, and only if it comes first (see hold).
      session = this.hub.openSession(principal, connection, { request: req, register: false, watchExpiryUntil: 0 });
      connection.session = session;
      session.checkChannels(channels);
      // Channels absent from the cursor start at their current position.
      if (fresh.length > 0) answer.startFresh(fresh, await session.positions(fresh));
      // The backlog, one channel at a time: memory stays within one channel's history plus the
      // answer. (Indexed loops here and below: an iterator kept across an await is allocated per poll.)
      for (let i = 0; i < channels.length; i++) {
        const channel = channels[i];
        const from = since[i];
        if (from === undefined) continue;
        if (answer.full) break;
        // Where this process's feed of the channel is (the cursor every poll of a broadcast
        // carries): nothing after it has reached this process, and the subscription below
        // joins the feed there.
        if (engine.isAtLocalHead(channel, from)) continue;
        // A message or a few behind it (a poll of the broadcast before): what the feed
        // delivered and still holds, without a store read or an await.
        const recent = engine.recentAfter(channel, from);
        if (recent !== undefined) {
          for (let k = 0; k < recent.length; k++) if (!answer.add(recent[k], recent[k].encoded(this.encoder))) break;
          continue;
        }
        const history = await session.history(channel, from);
        if (!history.recovered) {
          const first = history.messages[0];
          answer.markLost(channel, first === undefined ? history.position : { offset: first.offset - 1, epoch: first.epoch });
        }
        for (const m of history.messages) if (!answer.add(m, m.encoded(this.encoder))) break;
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
        const at = answer.position(i);
        // At the feed's head (the next poll of a broadcast) at once, with nothing to read.
        if (session.joinAtLocalHead(channel, at, POLL_FEED_LINGER_MS)) continue;
        await session.subscribe(
          channel,
          { offset: at.offset, epoch: at.epoch },
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
