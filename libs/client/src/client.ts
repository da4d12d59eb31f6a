import { BackoffOptions, DEFAULT_BACKOFF } from './backoff';
import { ChannelBook } from './channel-book';
import { Connection, ConnectionEvents } from './connection';
import { Emitter } from './emitter';
import { MemoryPositionStore, PositionStore } from './position-store';
import { Subscription, SubscriptionOptions } from './subscription';
import { GetToken, TokenSource, tokenSubject } from './token-source';
import { readError } from './transports/transport';
import { ClientState, Position, SwitchboardClientError, TransportName } from './types';

export interface ClientOptions {
  /** A fixed token, or… */
  token?: string;
  /**
   * …a function returning one: called at start (`initial`), before the token's `exp`
   * (`refresh`) and after the gateway refused or expired it (`unauthorized`). `null` ends the client.
   */
  getToken?: GetToken;
  /** Transports in order of preference (default websocket → sse → longpoll). */
  transports?: TransportName[];
  /** Reconnect backoff (full jitter). */
  backoff?: Partial<BackoffOptions>;
  /** Where positions are kept (default in memory; `LocalStoragePositionStore` survives reloads). */
  positionStore?: PositionStore;
  /** Liveness interval, ms: a connection silent for two intervals is dead (default 20000; SSE pings every 15 s). */
  livenessIntervalMs?: number;
  /** Failed opens (or quick cuts) of a transport before the next one is tried (default 2). */
  fallbackAfter?: number;
  /** Long-poll hold, seconds (default 25). */
  pollTimeoutSeconds?: number;
  /** WebSocket constructor where there is no global one (Node 20: `require('ws')`). */
  WebSocket?: typeof WebSocket;
  /** fetch implementation (default the global one). */
  fetch?: typeof fetch;
}

/** The client's events: the connection's, with `error` also carrying the one that ended it. */
export type ClientEvents = Omit<ConnectionEvents, 'failed'>;

/**
 * The Switchboard client: subscriptions that survive reconnects, transport switches, token
 * refreshes and gateway restarts without losing or duplicating a message. A facade over the
 * token source, the connection and the channel book.
 */
export class SwitchboardClient extends Emitter<ClientEvents> {
  readonly #tokens: TokenSource;
  readonly #book: ChannelBook;
  readonly #connection: Connection;
  readonly #store: PositionStore;
  /** Why the client ended, when it did not end by `close()`. */
  #failure?: SwitchboardClientError;

  readonly #options: ClientOptions;
  constructor(
    readonly url: string,
    options: ClientOptions,
  ) {
    super();
    this.#options = options;
    const baseUrl = url.replace(/\/+$/, '');
    const backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.#store = options.positionStore ?? new MemoryPositionStore();
    this.#tokens = new TokenSource(options.token, options.getToken, () => void this.#connection.refreshDue());
    this.#book = new ChannelBook(
      this.#store,
      { subscribe: (c, s) => this.#connection.subscribe(c, s), unsubscribe: (c) => this.#connection.unsubscribe(c) },
      backoff,
    );
    this.#connection = new Connection(
      baseUrl,
      {
        transports: options.transports?.length ? options.transports : ['websocket', 'sse', 'longpoll'],
        backoff,
        livenessIntervalMs: options.livenessIntervalMs ?? 20_000,
        fallbackAfter: options.fallbackAfter ?? 2,
        pollTimeoutSeconds: options.pollTimeoutSeconds ?? 25,
        WebSocket: options.WebSocket,
        fetch: options.fetch ?? globalThis.fetch.bind(globalThis),
      },
      this.#tokens,
      this.#book,
      // Connection events go to the app as they are, but the end: the client ends with it.
      (event, value) => (event === 'failed' ? this.#end(value as SwitchboardClientError) : this.emit(event, value)),
    );
    this.#connection.start();
  }

  get state(): ClientState {
    return this.#connection.state;
  }

  /** The transport in use (or being tried). */
  get transportName(): TransportName {
    return this.#connection.transportName;
  }

  /** The last position of a channel (what a resume starts after). */
  /** The `sub` of the current token; undefined until a token is known (a `getToken` client before it connects). */
  get subject(): string | undefined {
    const token = this.#tokens.current;
    return token === undefined ? undefined : tokenSubject(token);
  }

  position(channel: string): Position | undefined {
    return this.#store.get(channel);
  }

  subscribe<T = unknown>(channel: string, options: SubscriptionOptions = {}): Subscription<T> {
    if (this.state === 'closed') throw this.#failure ?? new SwitchboardClientError('closed', 'client is closed', channel);
    if (this.#book.has(channel)) throw new SwitchboardClientError('already_subscribed', `already subscribed to ${channel}`, channel);
    const subscription = new Subscription<T>(
      channel,
      options,
      (s) => this.#book.remove(s as Subscription),
      // GET /v1/presence on any transport (the token must allow subscribing to the channel).
      (c) => this.#get('/v1/presence?channel=' + encodeURIComponent(c), c),
    );
    this.#book.add(subscription as Subscription, options.since);
    return subscription;
  }

  /**
   * Publishes (WebSocket only). An idempotency key is generated when none is given, so the
   * retry after a dropped connection never publishes twice. A publish refused for the
   * connection's rate limit is retried with backoff until `timeoutMs` (default 15 s).
   */
  async publish(channel: string, data: unknown, options: { idempotencyKey?: string; timeoutMs?: number } = {}): Promise<number> {
    const key = options.idempotencyKey ?? randomKey();
    const deadline = Date.now() + (options.timeoutMs ?? 15_000);
    let rateLimited = 0;
    for (;;) {
      if (this.state === 'closed') throw this.#failure ?? new SwitchboardClientError('closed', 'client is closed', channel);
      const transport = this.#connection.transport;
      if (transport !== undefined && transport.name !== 'websocket') {
        const why = this.#connection.webSocketMissing ? 'no WebSocket here: pass options.WebSocket' : `using ${transport.name}`;
        throw new SwitchboardClientError('unsupported', `publish needs the WebSocket transport (${why})`, channel);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new SwitchboardClientError('timeout', 'publish not acknowledged in time', channel);
      if (transport === undefined) {
        await Promise.race([this.#connection.whenOpen(), sleep(left)]);
        continue;
      }
      try {
        return await transport.publish(channel, data, key, left);
      } catch (err) {
        const code = err instanceof SwitchboardClientError ? err.code : 'unavailable';
        if (code !== 'unavailable' && code !== 'timeout' && code !== 'rate_limited') throw err;
        // The connection went away before the ack, or the per-connection publish rate was
        // exceeded: retry with the same key (never published twice) until the deadline.
        rateLimited = code === 'rate_limited' ? rateLimited + 1 : 0;
        const pause = code === 'rate_limited' ? Math.min(1000, 100 * 2 ** Math.min(rateLimited - 1, 4)) * (0.5 + Math.random() / 2) : 250;
        await sleep(Math.min(pause, Math.max(0, deadline - Date.now())));
      }
    }
  }

  /** `GET /v1/webrtc/ice-servers`: STUN servers and short-lived TURN credentials for this client. */
  iceServers(): Promise<{ iceServers: RTCIceServer[]; ttl: number }> {
    return this.#get('/v1/webrtc/ice-servers');
  }

  async #get<R>(path: string, channel?: string): Promise<R> {
    const got = await this.#tokens.forConnect();
    if ('error' in got) throw got.error;
    const res = await (this.#options.fetch ?? globalThis.fetch)(`${this.url.replace(/\/+$/, '')}${path}`, {
      headers: { Authorization: `Bearer ${got.token}` },
    });
    if (res.status !== 200) {
      const err = await readError(res);
      throw new SwitchboardClientError(err.code, `${res.status}: ${err.message}`, channel);
    }
    return (await res.json()) as R;
  }

  /** Closes the client and every subscription. */
  close(): void {
    this.#end();
  }

  /** Checks the connection now (browser tab visible again, network back): reconnects if it is dead. */
  checkNow(): Promise<void> {
    return this.#connection.checkNow();
  }

  /** Ends everything; with `error`, the app and every subscription hear why. */
  #end(error?: SwitchboardClientError): void {
    if (this.#failure !== undefined || (this.state === 'closed' && error === undefined)) return;
    this.#failure = error;
    if (error !== undefined) this.emit('error', error);
    this.#connection.close();
    this.#tokens.close();
    this.#book.endAll(error);
  }
}

/** Connects to a Switchboard gateway (`https://rt.example.com`). */
export function connect(url: string, options: ClientOptions): SwitchboardClient {
  if (options.token === undefined && options.getToken === undefined) throw new Error('connect() needs a token or getToken');
  return new SwitchboardClient(url, options);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function randomKey(): string {
  const c = globalThis.crypto;
  return c?.randomUUID ? c.randomUUID() : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}
