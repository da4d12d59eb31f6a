import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { ChannelSubscription, MessageEncoder, StoredMessage } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import { encodeCursor, isSwitchboardError, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { Hub } from '../../hub/hub';
import { applyCors, parseChannelRequest, sendError } from '../http/channel-request';

/** Upper bound of `timeout` (SPEC). */
const MAX_TIMEOUT_SECONDS = 60;

/** What one poll answers. */
class PollResult {
  readonly messages: string[] = [];
  readonly lost: string[] = [];

  constructor(readonly positions: Map<string, StreamPosition>) {}

  add(m: StoredMessage, json: string): void {
    this.messages.push(json);
    this.positions.set(m.channel, { offset: m.offset, epoch: m.epoch });
  }

  markLost(channel: string, position: StreamPosition): void {
    if (!this.lost.includes(channel)) this.lost.push(channel);
    this.positions.set(channel, position);
  }

  get isEmpty(): boolean {
    return this.messages.length === 0 && this.lost.length === 0;
  }

  /** The body, built by concatenation: message JSON is never re-serialised. */
  body(): string {
    let body = '{"messages":[' + this.messages.join(',') + '],"cursor":"' + encodeCursor(this.positions) + '"';
    if (this.lost.length > 0) body += ',"recovered":false,"lost":' + JSON.stringify(this.lost);
    return body + '}';
  }
}

/** A poll waiting for messages. */
interface HeldPoll {
  answer(): void;
}

/**
 * `GET /v1/poll`: stateless long-poll. The cursor carries every position, so any instance
 * answers any poll. With messages after the cursor it answers at once; otherwise it
 * subscribes (which re-reads history after the subscription is in place, so nothing that
 * lands in between is missed) and holds up to `timeout` seconds.
 */
@Injectable()
export class PollTransport implements OnApplicationShutdown {
  private readonly held = new Set<HeldPoll>();
  private readonly json: MessageEncoder<string>;
  private draining = false;

  constructor(
    private readonly hub: Hub,
    private readonly verifier: GatewayTokenVerifier,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {
    this.json = hub.timedEncoder('poll', (m) => m.json);
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (applyCors(req, res, this.hub.options)) return;
    try {
      const request = await parseChannelRequest(req, this.verifier, this.hub.options, (q) => q.get('cursor') ?? undefined);
      const timeout = parseTimeout(request.query.get('timeout'), this.hub.options.pollTimeoutSeconds);
      const engine = this.hub.engine;
      // Channels absent from the cursor start at their current position.
      const fresh = request.channels.filter((c) => request.cursor?.get(c) === undefined);
      const current = fresh.length > 0 ? await engine.positions(fresh) : [];
      const positions = new Map<string, StreamPosition>();
      fresh.forEach((c, i) => positions.set(c, current[i]));
      const resumed = request.channels.filter((c) => request.cursor?.get(c) !== undefined);
      const histories = await Promise.all(resumed.map((c) => engine.history(c, request.cursor!.get(c))));
      const result = new PollResult(new Map(request.channels.map((c) => [c, request.cursor?.get(c) ?? positions.get(c)!])));
      resumed.forEach((channel, i) => {
        const h = histories[i];
        if (!h.recovered) result.markLost(channel, h.position);
        for (const m of h.messages) result.add(m, m.encoded(this.json));
      });
      if (!result.isEmpty || timeout === 0 || this.draining || request.cursor === undefined) {
        this.respond(res, result);
        return;
      }
      await this.hold(res, request.channels, result, timeout);
    } catch (err) {
      if (isSwitchboardError(err)) sendError(res, err);
      else {
        this.logger.error({ err }, 'poll request failed');
        sendError(res, new SwitchboardError('unavailable', 'internal error'));
      }
    }
  }

  /** Answers every held poll now (drain): clients poll again, elsewhere. */
  drain(): void {
    this.draining = true;
    for (const h of this.held) h.answer();
  }

  onApplicationShutdown(): void {
    this.drain();
  }

  private async hold(res: ServerResponse, channels: string[], result: PollResult, timeoutSeconds: number): Promise<void> {
    const subscriptions: ChannelSubscription[] = [];
    let done = false;
    let batchTimer: NodeJS.Immediate | undefined;
    /** Ends the hold once: timers, registration, subscriptions. False if it had ended. */
    const finish = (): boolean => {
      if (done) return false;
      done = true;
      clearTimeout(holdTimer);
      clearImmediate(batchTimer);
      this.held.delete(held);
      for (const s of subscriptions) s.unsubscribe();
      return true;
    };
    const answer = (): void => {
      if (finish() && !res.destroyed) this.respond(res, result);
    };
    const held: HeldPoll = { answer };
    // Answers after the current I/O turn: messages arriving together go in one response;
    // what arrives while the client polls again is read from history by that poll.
    const soon = (): void => {
      batchTimer ??= setImmediate(answer);
    };
    const holdTimer = setTimeout(answer, timeoutSeconds * 1000);
    this.held.add(held);
    res.on('close', finish);
    try {
      for (const channel of channels) {
        const since = result.positions.get(channel)!;
        const subscription = await this.hub.engine.subscribe(
          channel,
          {
            onSubscribed: (o) => {
              if (o.recovered === false) {
                result.markLost(channel, { offset: o.offset, epoch: o.epoch });
                soon();
              }
            },
            onMessage: (m) => {
              if (done) return;
              result.add(m, m.encoded(this.json));
              soon();
            },
            onLost: (c) => {
              if (done) return;
              result.markLost(c, result.positions.get(c)!);
              soon();
            },
          },
          { since },
        );
        if (done) subscription.unsubscribe();
        else subscriptions.push(subscription);
      }
    } catch (err) {
      if (finish()) throw err;
    }
  }

  private respond(res: ServerResponse, result: PollResult): void {
    const body = result.body();
    res.writeHead(200, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store', 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
    this.hub.countDelivered('poll', result.messages.length);
  }
}

function parseTimeout(value: string | null, fallback: number): number {
  if (value === null || value === '') return fallback;
  if (!/^\d{1,2}$/.test(value) || Number(value) > MAX_TIMEOUT_SECONDS) {
    throw new SwitchboardError('bad_request', `timeout must be an integer number of seconds from 0 to ${MAX_TIMEOUT_SECONDS}`);
  }
  return Number(value);
}
