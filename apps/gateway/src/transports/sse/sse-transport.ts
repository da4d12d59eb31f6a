import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { MessageEncoder, StoredMessage, SubscribeOutcome } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import { encodeCursor, isSwitchboardError, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { ClientSession } from '../../hub/client-session';
import { ConnectionRegistry, Drainable } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import { SessionSink } from '../../hub/transport';
import { applyCors, parseChannelRequest, sendError } from '../http/channel-request';

const SSE_HEADERS = {
  'Content-Type': 'text/event-stream; charset=utf-8',
  'Cache-Control': 'no-cache',
  'X-Accel-Buffering': 'no',
  Connection: 'keep-alive',
};

/** The part of an SSE message event that is the same for every stream. */
interface SseEncoders {
  /** `event: message\ndata: <json>\n\n` — shared by every recipient. */
  body: MessageEncoder<string>;
  /** `id: <cursor>\n` for a single-channel stream — shared by every stream of that channel. */
  singleId: MessageEncoder<string>;
}

/** One open `GET /v1/sse` response. */
class SseStream implements SessionSink, Drainable {
  readonly transport = 'sse' as const;
  session!: ClientSession;
  /** Position of each channel of the stream: what the next `id:` carries. */
  private readonly positions = new Map<string, StreamPosition>();
  /** Chunks produced before the headers went out (recovered and early live messages). */
  private early: string[] | null = [];
  /** Last message of a single-channel stream (its position, without a Map write per message). */
  private lastSingle?: StoredMessage;
  private closed = false;

  constructor(
    readonly res: ServerResponse,
    private readonly channels: readonly string[],
    private readonly encoders: SseEncoders,
    private readonly transportRef: SseTransport,
  ) {}

  /** Before the stream starts: the channel's position is the subscribe outcome (or the resume point). */
  subscribed(outcome: SubscribeOutcome, since: StreamPosition | undefined): void {
    this.positions.set(
      outcome.channel,
      since !== undefined && outcome.recovered === true ? since : { offset: outcome.offset, epoch: outcome.epoch },
    );
    if (outcome.recovered === false) this.lost(outcome.channel);
  }

  deliver(m: StoredMessage): void {
    if (this.closed) return;
    const body = m.encoded(this.encoders.body);
    let chunk: string;
    if (this.channels.length === 1) {
      this.lastSingle = m;
      chunk = m.encoded(this.encoders.singleId) + body;
    } else {
      this.positions.set(m.channel, { offset: m.offset, epoch: m.epoch });
      chunk = 'id: ' + encodeCursor(this.positions) + '\n' + body;
    }
    this.write(chunk);
    this.transportRef.hub.countDelivered('sse');
  }

  lost(channel: string): void {
    this.write('event: recovery\ndata: ' + JSON.stringify({ channel, recovered: false }) + '\n\n');
  }

  /** The cursor of every channel's current position. */
  cursor(): string {
    const last = this.lastSingle;
    if (last !== undefined) this.positions.set(last.channel, { offset: last.offset, epoch: last.epoch });
    return encodeCursor(this.positions);
  }

  /**
   * Headers, `retry`, and the start position as an `id` (a field without data updates the
   * browser's last event id without dispatching an event), so a reconnect before the first
   * message still resumes; then what waited.
   */
  start(retryMs: number): void {
    this.res.writeHead(200, SSE_HEADERS);
    this.res.write(`retry: ${retryMs}\nid: ${this.cursor()}\n\n`);
    const early = this.early ?? [];
    this.early = null;
    for (const chunk of early) this.write(chunk);
  }

  ping(now: number): void {
    this.write(`id: ${this.cursor()}\nevent: ping\ndata: ${now}\n\n`);
  }

  drain(reconnectAfterMs: number): void {
    this.transportRef.hub.metrics.drainDisconnects.inc({ transport: 'sse' });
    this.write(`retry: ${reconnectAfterMs}\n\n`);
    this.end();
  }

  end(): void {
    if (this.closed) return;
    this.closed = true;
    this.session?.close();
    this.res.end();
  }

  onClosed(): void {
    this.closed = true;
    this.session?.close();
  }

  private write(chunk: string): void {
    if (this.closed) return;
    if (this.early !== null) {
      this.early.push(chunk);
      return;
    }
    this.res.write(chunk);
    if (this.res.writableLength > this.transportRef.hub.options.sendQueueMaxBytes) {
      this.transportRef.hub.metrics.slowConsumerDisconnects.inc({ transport: 'sse' });
      this.transportRef.logger.info({ sub: this.session.principal.sub, queued: this.res.writableLength }, 'slow SSE consumer disconnected');
      this.end();
      this.res.destroy();
    }
  }
}

/**
 * `GET /v1/sse`: Server-Sent Events. Subscriptions are in place before the headers go out;
 * every `id:` is the cursor of all the stream's channels; `Last-Event-ID` resumes them.
 */
@Injectable()
export class SseTransport implements OnApplicationShutdown {
  private readonly streams = new Set<SseStream>();
  private readonly keepalive: NodeJS.Timeout;
  private readonly encoders: SseEncoders;

  constructor(
    readonly hub: Hub,
    private readonly verifier: GatewayTokenVerifier,
    private readonly registry: ConnectionRegistry,
    @Inject(LOGGER) readonly logger: Logger,
  ) {
    this.encoders = {
      body: hub.timedEncoder('sse', (m) => 'event: message\ndata: ' + m.json + '\n\n'),
      singleId: { encode: (m) => 'id: ' + encodeCursor([[m.channel, { offset: m.offset, epoch: m.epoch }]]) + '\n' },
    };
    this.keepalive = setInterval(() => {
      const now = Date.now();
      for (const s of this.streams) s.ping(now);
    }, hub.options.sseKeepaliveMs);
    this.keepalive.unref();
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (applyCors(req, res, this.hub.options)) return;
    let stream: SseStream | undefined;
    try {
      // The header wins over the query: a browser reconnects with the old URL and a newer header.
      const request = await parseChannelRequest(req, this.verifier, this.hub.options, (q) => {
        const header = req.headers['last-event-id'];
        return typeof header === 'string' && header !== '' ? header : (q.get('lastEventId') ?? undefined);
      });
      this.registry.admit('sse');
      const s = new SseStream(res, request.channels, this.encoders, this);
      stream = s;
      s.session = this.hub.openSession(request.principal, s);
      this.registry.add(s);
      this.streams.add(s);
      res.on('close', () => {
        s.onClosed();
        this.streams.delete(s);
        this.registry.remove(s);
      });
      for (const channel of request.channels) {
        const since = request.cursor?.get(channel);
        await s.session.subscribe(channel, since, (outcome) => s.subscribed(outcome, since));
      }
      if (res.destroyed) return;
      req.socket.setNoDelay(true);
      req.socket.setTimeout(0);
      s.start(this.hub.options.sseRetryMs);
    } catch (err) {
      stream?.onClosed();
      if (isSwitchboardError(err)) sendError(res, err);
      else {
        this.logger.error({ err }, 'SSE request failed');
        sendError(res, new SwitchboardError('unavailable', 'internal error'));
      }
    }
  }

  /** After the drain (Nest runs onModuleDestroy before it): end whatever is left. */
  onApplicationShutdown(): void {
    clearInterval(this.keepalive);
    for (const s of this.streams) s.end();
  }
}
