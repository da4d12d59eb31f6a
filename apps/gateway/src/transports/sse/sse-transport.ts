import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import type { MessageEncoder, StoredMessage, SubscribeOutcome } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { LOGGER } from '@switchboard/platform';
import { encodeCursor, isSwitchboardError, StreamPosition, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { ClientSession } from '../../hub/client-session';
import { ConnectionRegistry } from '../../hub/connection-registry';
import { Hub } from '../../hub/hub';
import type { PresenceNotice } from '../../hub/presence-hub';
import { EndReason, SessionTransport } from '../../hub/session-transport';
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
  /** `singleId` + `body`: what a single-channel stream writes. */
  single: MessageEncoder<string>;
  /** `single` as UTF-8 bytes in one HTTP chunk (`<hex length>\r\n…\r\n`), for a chunked response's socket. */
  singleChunk: LastEncoded;
  /** `single` as UTF-8 bytes, for a response without chunked encoding (an HTTP/1.0 client). */
  singleRaw: LastEncoded;
}

/**
 * One message's bytes for every stream of a broadcast: the recipients of a message come one
 * after the other, so the last message and its bytes are kept here and each recipient costs a
 * pointer compare (`StoredMessage.encoded`, a map lookup, runs once per message).
 */
class LastEncoded {
  private message?: StoredMessage;
  private bytes?: Buffer;

  constructor(private readonly encoder: MessageEncoder<Buffer>) {}

  of(m: StoredMessage): Buffer {
    if (m !== this.message) {
      this.bytes = m.encoded(this.encoder);
      this.message = m;
    }
    return this.bytes!;
  }
}

/**
 * One open `GET /v1/sse` response. Every `id:` is the position after the last message
 * actually written on each channel of the stream, so a reconnect with `Last-Event-ID`
 * after a cut at any byte loses nothing: the opening `id:` is the resume point itself,
 * not the channels' current positions.
 */
class SseStream implements SessionTransport {
  readonly transport = 'sse' as const;
  session!: ClientSession;
  /** Each channel's position after what was written (mutable objects: no allocation per message). */
  private readonly positions = new Map<string, StreamPosition>();
  /** The opening `id:`: where this stream resumes from, fixed before any message moves a position. */
  private opening?: string;
  /** Chunks produced before the headers went out (the resume backlog and early live messages). */
  private early: string[] | null = [];
  private earlyBytes = 0;
  /** The backlog outgrew its bound: what did not fit follows on the client's reconnect. */
  private truncated = false;
  private closed = false;
  /**
   * The response's socket once the stream has started, when the response owns it: a live
   * message is written to it as one pre-framed buffer (see `deliver`). Null before the start,
   * and for a response that was queued behind another on its connection (HTTP pipelining).
   */
  private socket: Socket | null = null;
  /** The bytes a message takes on `socket`: one chunk of the chunked body, or raw (HTTP/1.0). */
  private liveBytes?: LastEncoded;
  /** From the start, the position of a single-channel stream's channel (the map's only entry). */
  private only?: StreamPosition;

  constructor(
    readonly res: ServerResponse,
    private readonly channels: readonly string[],
    private readonly encoders: SseEncoders,
    /** Largest backlog written before the stream starts: MAX_RESPONSE_BYTES, within SEND_QUEUE_MAX_BYTES. */
    private readonly maxBacklogBytes: number,
    private readonly onTruncated: () => void,
  ) {}

  get isTruncated(): boolean {
    return this.truncated;
  }

  /**
   * Positions known before any subscribe (the cursor's, and those read for the fresh
   * channels of a multi-channel stream); a single fresh channel's comes with its outcome.
   */
  begin(known: ReadonlyMap<string, StreamPosition>): void {
    for (const channel of this.channels) {
      const p = known.get(channel);
      if (p !== undefined) this.positions.set(channel, { offset: p.offset, epoch: p.epoch });
    }
    if (this.positions.size === this.channels.length) this.opening = encodeCursor(this.positions);
  }

  /** A channel's subscribe outcome, before its missed messages. */
  subscribed(outcome: SubscribeOutcome, since: StreamPosition | undefined): void {
    const position = this.positions.get(outcome.channel);
    if (since === undefined || position === undefined) {
      this.positions.set(outcome.channel, { offset: outcome.offset, epoch: outcome.epoch });
      this.opening ??= encodeCursor(this.positions);
    } else if (outcome.recovered === false) {
      this.lost(outcome.channel);
      // The notice is out: from here the position is what the store has (the messages
      // history still holds follow, each moving it), so a reconnect does not repeat the loss.
      position.offset = outcome.offset;
      position.epoch = outcome.epoch;
    }
  }

  /**
   * Hot path. Live on one channel (the common case) every stream writes the same bytes, so
   * they are framed once per message as a whole HTTP chunk and written straight to the
   * socket: `res.write` would, per recipient, cork the socket and queue an uncork on
   * `nextTick`, send the chunk as four pieces (hex length, CRLF, data, CRLF) buffered in the
   * corked socket, then gather them with `clearBuffer` into a `writev` — all of it allocated
   * per write. The socket's own queue keeps the order with what `res.write` sends (pings,
   * notices, the end).
   */
  deliver(m: StoredMessage): void {
    if (this.closed || this.truncated) return;
    const position = this.only ?? this.positions.get(m.channel)!;
    position.offset = m.offset;
    // Mostly the same epoch in a new string: comparing is cheaper than storing it (a write barrier).
    if (position.epoch !== m.epoch) position.epoch = m.epoch;
    if (this.channels.length === 1) {
      const socket = this.socket;
      if (socket !== null) {
        // A socket that stopped being writable is closing: its 'close' ends the session.
        if (socket.writable) socket.write(this.liveBytes!.of(m));
      } else if (this.early === null) this.res.write(this.encoders.singleRaw.of(m));
      else this.write(m.encoded(this.encoders.single), true);
      return;
    }
    this.write('id: ' + encodeCursor(this.positions) + '\n' + m.encoded(this.encoders.body), true);
  }

  /** `event: join|leave`, shared by every stream of the channel; no `id:` (join/leave take no position). */
  presenceNotice(notice: PresenceNotice): void {
    this.write(notice.sse, false);
  }

  lost(channel: string): void {
    this.write('event: recovery\ndata: ' + JSON.stringify({ channel, recovered: false }) + '\n\n', false);
  }

  /** A stream's channels are fixed: a channel the token no longer allows ends the stream. */
  unsubscribed(): void {
    this.session.end('expired');
  }

  queuedBytes(): number {
    // With the socket in hand nothing waits in the response (its writes go to the socket too).
    return this.socket !== null ? this.socket.writableLength : this.res.writableLength + this.earlyBytes;
  }

  /**
   * Headers, `retry`, the opening `id:` (a field without data sets the browser's last event
   * id without dispatching an event), then the backlog. A truncated backlog ends the stream
   * with `retry: 0`: the client reconnects at once from the last `id:` and gets the rest.
   */
  start(retryMs: number): void {
    const early = this.early ?? [];
    this.early = null;
    this.earlyBytes = 0;
    this.res.writeHead(200, SSE_HEADERS);
    this.res.write(`retry: ${retryMs}\nid: ${this.opening ?? encodeCursor(this.positions)}\n\n` + early.join(''));
    if (this.truncated) {
      this.onTruncated();
      this.res.end('retry: 0\n\n');
      this.closed = true;
      this.session.close();
      return;
    }
    if (this.channels.length === 1) this.only = this.positions.get(this.channels[0]);
    // The response holds its socket (not queued behind an earlier response), and the write
    // above went to it: from here the live messages can too.
    const socket = this.res.socket;
    if (this.only !== undefined && socket !== null && this.res.writableLength === socket.writableLength) {
      this.liveBytes = this.res.chunkedEncoding ? this.encoders.singleChunk : this.encoders.singleRaw;
      this.socket = socket;
    }
  }

  ping(now: number): void {
    if (this.early === null) this.write(`id: ${encodeCursor(this.positions)}\nevent: ping\ndata: ${now}\n\n`, false);
  }

  end(reason: EndReason, reconnectAfterMs?: number): void {
    if (this.closed) return;
    if (this.early !== null) {
      // Not started: a plain HTTP answer.
      this.closed = true;
      this.early = null;
      sendError(this.res, new SwitchboardError(reason === 'expired' ? 'unauthorized' : 'unavailable', endMessage(reason)));
      return;
    }
    if (reason === 'expired') this.res.write('event: expired\ndata: {"reason":"token expired"}\n\n');
    else if (reason === 'drain') this.res.write(`retry: ${reconnectAfterMs ?? 1000}\n\n`);
    this.closed = true;
    this.res.end();
    if (reason === 'slow_consumer') this.res.destroy();
  }

  onClosed(): void {
    this.closed = true;
    this.session?.close();
  }

  private write(chunk: string, message: boolean): void {
    if (this.closed) return;
    if (this.early !== null) {
      const bytes = Buffer.byteLength(chunk);
      if (message && this.earlyBytes + bytes > this.maxBacklogBytes && this.earlyBytes > 0) {
        this.truncated = true;
        return;
      }
      this.early.push(chunk);
      this.earlyBytes += bytes;
      return;
    }
    this.res.write(chunk);
    if (!message) this.session.sent();
  }
}

function endMessage(reason: EndReason): string {
  return reason === 'expired' ? 'token expired' : 'server is restarting, reconnect to another instance';
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
    const single: MessageEncoder<string> = { encode: (m) => m.encoded(encoders.singleId) + m.encoded(encoders.body) };
    const encoders: SseEncoders = {
      body: hub.timedEncoder('sse', (m) => 'event: message\ndata: ' + m.json + '\n\n'),
      singleId: { encode: (m) => 'id: ' + encodeCursor([[m.channel, { offset: m.offset, epoch: m.epoch }]]) + '\n' },
      single,
      singleChunk: new LastEncoded({
        encode: (m) => {
          const text = m.encoded(single);
          return Buffer.from(Buffer.byteLength(text).toString(16) + '\r\n' + text + '\r\n', 'utf8');
        },
      }),
      singleRaw: new LastEncoded({ encode: (m) => Buffer.from(m.encoded(single), 'utf8') }),
    };
    this.encoders = encoders;
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
      const options = this.hub.options;
      const s = new SseStream(res, request.channels, this.encoders, Math.min(options.maxResponseBytes, options.sendQueueMaxBytes), () =>
        this.hub.metrics.limitHits.inc({ limit: 'max_response_bytes', transport: 'sse' }),
      );
      stream = s;
      const session = this.hub.openSession(request.principal, s, { request: req });
      s.session = session;
      res.on('close', () => {
        s.onClosed();
        this.streams.delete(s);
      });
      session.checkChannels(request.channels);
      const known = new Map(request.cursor ?? []);
      if (request.channels.length > 1) {
        // Every `id:` must name every channel from the first byte on: read where fresh channels stand now.
        const fresh = request.channels.filter((c) => !known.has(c));
        if (fresh.length > 0) (await session.positions(fresh)).forEach((p, i) => known.set(fresh[i], p));
      }
      s.begin(known);
      for (const channel of request.channels) {
        if (s.isTruncated || session.isClosed) break;
        const since = known.get(channel);
        await session.subscribe(channel, since, (outcome) => s.subscribed(outcome, since));
      }
      if (session.isExpired) session.expire();
      if (res.destroyed || session.isClosed) return;
      this.streams.add(s);
      req.socket.setNoDelay(true);
      req.socket.setTimeout(0);
      s.start(options.sseRetryMs);
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
    for (const s of this.streams) s.session.end('shutdown');
  }
}
