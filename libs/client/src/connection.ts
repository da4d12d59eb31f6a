import { BackoffOptions, backoffDelay } from './backoff';
import { installBrowserHooks } from './browser-hooks';
import { ChannelBook } from './channel-book';
import { TokenSource, tokenExpiry } from './token-source';
import { TransportLadder } from './transport-ladder';
import { LongPollTransport } from './transports/longpoll';
import { SseTransport } from './transports/sse';
import { CloseInfo, Transport, TransportContext, TransportHandlers } from './transports/transport';
import { WebSocketTransport } from './transports/websocket';
import { ClientState, Position, SwitchboardClientError, TokenReason, TransportName } from './types';

/** The connection's settings, defaults applied (ClientOptions documents each). */
export interface ConnectionOptions {
  transports: TransportName[];
  backoff: BackoffOptions;
  livenessIntervalMs: number;
  fallbackAfter: number;
  pollTimeoutSeconds: number;
  WebSocket?: typeof WebSocket;
  fetch: typeof fetch;
}

export interface ConnectionEvents {
  state: ClientState;
  transport: TransportName;
  /** Something the app should know (a refused token, a failing getToken); the connection keeps trying. */
  error: SwitchboardClientError;
  /** Each reconnect attempt: its number and the delay chosen (for observability). */
  reconnect: { attempt: number; delayMs: number; transport: TransportName };
  /** The connection gave up for good (closed now): the client ends with this error. */
  failed: SwitchboardClientError;
}

/** Where the connection reports its events (the client re-emits them to the app). */
export type ConnectionSink = <K extends keyof ConnectionEvents>(event: K, value: ConnectionEvents[K]) => void;

/**
 * One logical connection to the gateway over whichever transport works: opens it with the
 * token source's token, falls back WebSocket → SSE → long-poll, reconnects with backoff,
 * declares a silent connection dead, hands a refreshed token to the transport in use, and
 * tells a refused token (the app's problem) from a failing transport (ours).
 */
export class Connection {
  readonly #ladder: TransportLadder;
  #attempt = 0;
  #current?: Transport;
  #tokenInUse?: string;
  #openedAt = 0;
  #lastActivity = 0;
  #stateValue: ClientState = 'connecting';
  #nextReason?: TokenReason;
  #reconnectTimer?: ReturnType<typeof setTimeout>;
  #expiryTimer?: ReturnType<typeof setTimeout>;
  #refreshRetryTimer?: ReturnType<typeof setTimeout>;
  #livenessTimer?: ReturnType<typeof setInterval>;
  readonly #waiting: Array<() => void> = [];
  readonly #removeBrowserHooks: () => void;

  readonly #baseUrl: string;
  readonly #options: ConnectionOptions;
  readonly #tokens: TokenSource;
  readonly #book: ChannelBook;
  readonly #emit: ConnectionSink;
  constructor(baseUrl: string, options: ConnectionOptions, tokens: TokenSource, book: ChannelBook, emit: ConnectionSink) {
    this.#emit = emit;
    this.#baseUrl = baseUrl;
    this.#options = options;
    this.#tokens = tokens;
    this.#book = book;
    this.#ladder = new TransportLadder(options.transports, options.fallbackAfter, options.WebSocket);
    this.#removeBrowserHooks = installBrowserHooks({
      check: () => void this.checkNow(),
      online: () => {
        this.#attempt = 0;
        void this.checkNow();
      },
    });
  }

  get state(): ClientState {
    return this.#stateValue;
  }

  /** The transport in use (or being tried). */
  get transportName(): TransportName {
    return this.#ladder.current;
  }

  /** The open transport, if any. */
  get transport(): Transport | undefined {
    return this.#stateValue === 'connected' ? this.#current : undefined;
  }

  /** A getter, so checks after an await are not narrowed away. */
  get #closed(): boolean {
    return this.#stateValue === 'closed';
  }

  /** True when WebSocket was skipped because this runtime has no implementation. */
  get webSocketMissing(): boolean {
    return this.#ladder.webSocketMissing;
  }

  start(): void {
    void this.#connect();
  }

  subscribe(channel: string, since?: Position): void {
    this.#current?.subscribe(channel, since);
  }

  unsubscribe(channel: string): void {
    this.#current?.unsubscribe(channel);
  }

  /** Resolves once connected, or once closed. */
  whenOpen(): Promise<void> {
    if (this.#stateValue === 'connected' || this.#stateValue === 'closed') return Promise.resolve();
    return new Promise((resolve) => this.#waiting.push(resolve));
  }

  /** Checks the connection now (tab visible again, network back): reconnects if it is dead. */
  async checkNow(): Promise<void> {
    if (this.#closed) return;
    const transport = this.#current;
    if (this.#stateValue !== 'connected' || transport === undefined) {
      // Waiting out a backoff: try now instead (an attempt in progress is left alone).
      if (this.#reconnectTimer !== undefined) {
        clearTimeout(this.#reconnectTimer);
        this.#reconnectTimer = undefined;
        this.#reconnectSoon(0);
      }
      return;
    }
    const alive = await transport.ping(5000);
    if (!alive && transport === this.#current) this.#restart();
  }

  /** The token's refresh is due (TokenSource): hand a new one to the transport in use. */
  async refreshDue(): Promise<void> {
    clearTimeout(this.#refreshRetryTimer);
    if (this.#closed) return;
    const got = await this.#tokens.obtain('refresh');
    if (this.#closed) return;
    if ('error' in got) {
      if (got.terminal) return this.#fail(got.error);
      this.#emit('error', got.error);
      // getToken failed: ask again while the token in use still holds (at its exp the
      // gateway ends the connection, and the reconnect asks anyway).
      const left = (tokenExpiry(this.#tokenInUse ?? '') ?? 0) - Date.now();
      if (left > 2000) this.#refreshRetryTimer = setTimeout(() => void this.refreshDue(), Math.min(5000, left / 2));
      return;
    }
    await this.#handOver(got.token);
  }

  close(): void {
    if (this.#closed) return;
    this.#setState('closed');
    clearTimeout(this.#reconnectTimer);
    clearTimeout(this.#expiryTimer);
    clearTimeout(this.#refreshRetryTimer);
    clearInterval(this.#livenessTimer);
    this.#removeBrowserHooks();
    this.#current?.close();
    this.#current = undefined;
    for (const wake of this.#waiting.splice(0)) wake();
  }

  async #connect(): Promise<void> {
    if (this.#closed) return;
    this.#setState('connecting');
    const name = this.#ladder.usable();
    if (name === undefined) {
      this.#fail(new SwitchboardClientError('unsupported', 'no WebSocket here: pass options.WebSocket'));
      return;
    }
    const reason = this.#nextReason;
    this.#nextReason = undefined;
    let got = reason === undefined ? await this.#tokens.forConnect() : await this.#tokens.obtain(reason);
    if (this.#closed) return;
    const held = this.#tokens.current;
    if ('error' in got && !got.terminal && reason === undefined && held !== undefined && (tokenExpiry(held) ?? Infinity) > Date.now()) {
      // getToken failed when a refresh was due, but the token held still works until its exp.
      this.#emit('error', got.error);
      got = { token: held };
    }
    if ('error' in got) {
      if (got.terminal) return this.#fail(got.error);
      this.#emit('error', got.error);
      this.#reconnectSoon(undefined, reason);
      return;
    }
    this.#emit('transport', name);
    // Events of a transport that is no longer the current one are ignored.
    const slot: { owner?: Transport } = {};
    const ctx: TransportContext = {
      baseUrl: this.#baseUrl,
      token: got.token,
      channels: () => this.#book.held(),
      handlers: this.#handlersFor(() => slot.owner),
      WebSocket: this.#options.WebSocket,
      fetch: this.#options.fetch,
      pollTimeoutSeconds: this.#options.pollTimeoutSeconds,
    };
    const transport =
      name === 'websocket' ? new WebSocketTransport(ctx) : name === 'sse' ? new SseTransport(ctx) : new LongPollTransport(ctx);
    slot.owner = transport;
    this.#current = transport;
    this.#tokenInUse = got.token;
    this.#lastActivity = Date.now();
    transport.start();
  }

  /** Gives the transport in use a new token; what it cannot take in-band costs a (lossless) reconnect. */
  async #handOver(token: string): Promise<void> {
    const transport = this.#current;
    // Not connected: the next connection opens with the new token.
    if (transport === undefined || this.#stateValue !== 'connected' || token === this.#tokenInUse) return;
    const oldExpiry = tokenExpiry(this.#tokenInUse ?? '');
    const outcome = await transport.refresh(token);
    if (transport !== this.#current) return;
    switch (outcome) {
      case 'refreshed':
        this.#tokenInUse = token;
        return;
      case 'refused':
        // The gateway keeps the connection until the old token's exp; then reconnect with a fresh one.
        clearTimeout(this.#expiryTimer);
        if (oldExpiry === undefined) return;
        this.#expiryTimer = setTimeout(
          () => {
            if (transport !== this.#current) return;
            this.#tokens.invalidate();
            this.#restart();
          },
          Math.max(0, oldExpiry - Date.now()),
        );
        return;
      case 'failed':
        this.#restart();
        return;
    }
  }

  #handlersFor(owner: () => Transport | undefined): TransportHandlers {
    const current = (): boolean => owner() !== undefined && owner() === this.#current;
    return {
      open: () => {
        if (!current()) return;
        this.#openedAt = Date.now();
        this.#attempt = 0;
        this.#setState('connected');
        this.#startLiveness();
        for (const wake of this.#waiting.splice(0)) wake();
        // A token refreshed while this connection was opening: hand it over now.
        const token = this.#tokens.current;
        if (token !== undefined && token !== this.#tokenInUse) void this.#handOver(token);
      },
      subscribed: (channel, position, recovered) => {
        if (current()) this.#book.subscribed(channel, position, recovered);
      },
      position: (channel, position) => {
        if (current()) this.#book.position(channel, position);
      },
      message: (m) => {
        if (current()) this.#book.message(m);
      },
      recovery: (channel) => {
        if (current()) this.#book.recovery(channel);
      },
      presence: (notice) => {
        if (current()) this.#book.presence(notice);
      },
      channelError: (channel, code, message) => {
        if (!current()) return;
        const transport = owner();
        this.#book.channelError(channel, code, message, () => {
          if (transport !== undefined && transport === this.#current) transport.subscribe(channel, this.#book.resumePoint(channel));
        });
      },
      activity: () => {
        if (current()) this.#lastActivity = Date.now();
      },
      close: (info) => {
        if (current()) this.#onTransportClose(info);
      },
    };
  }

  #onTransportClose(info: CloseInfo): void {
    this.#current = undefined;
    clearInterval(this.#livenessTimer);
    clearTimeout(this.#expiryTimer);
    if (this.#closed) return;
    this.#setState('disconnected');
    if (info.fatal === true) {
      this.#fail(new SwitchboardClientError('policy', info.reason ?? `refused (${info.code ?? 'no code'})`));
      return;
    }
    if (info.unauthorized === true) {
      if (!info.opened) {
        // Refused at connect: the app hears of it now, and it is no reason to change transport.
        const error = new SwitchboardClientError('unauthorized', `the gateway refused the token${info.reason ? `: ${info.reason}` : ''}`);
        if (!this.#tokens.renewable) return this.#fail(error);
        this.#emit('error', error);
      }
      // Refused, or expired on a working connection: a new token, then on from the positions held.
      this.#reconnectSoon(undefined, 'unauthorized');
      return;
    }
    // A transport that cannot open, or is cut again and again right after opening, is demoted.
    if (this.#ladder.ended(info, this.#openedAt)) this.#attempt = 0;
    const advised = info.retryAfterMs;
    this.#reconnectSoon(advised !== undefined ? advised + backoffDelay(0, this.#options.backoff) : undefined);
  }

  #reconnectSoon(delayMs?: number, reason?: TokenReason): void {
    if (reason !== undefined) this.#nextReason = reason;
    if (this.#closed || this.#reconnectTimer !== undefined) return;
    if (this.#attempt >= this.#options.backoff.maxAttempts) {
      const code = this.#nextReason === 'unauthorized' ? 'unauthorized' : 'unavailable';
      this.#fail(new SwitchboardClientError(code, `gave up after ${this.#attempt} attempts`));
      return;
    }
    const delay = delayMs ?? backoffDelay(this.#attempt, this.#options.backoff);
    this.#attempt++;
    this.#emit('reconnect', { attempt: this.#attempt, delayMs: delay, transport: this.transportName });
    this.#reconnectTimer = setTimeout(() => {
      this.#reconnectTimer = undefined;
      void this.#connect();
    }, delay);
  }

  /** Drops the current connection and reconnects at once (dead connection, new token). */
  #restart(): void {
    const transport = this.#current;
    this.#current = undefined;
    transport?.close();
    clearInterval(this.#livenessTimer);
    clearTimeout(this.#expiryTimer);
    this.#setState('disconnected');
    this.#reconnectSoon(0);
  }

  #startLiveness(): void {
    clearInterval(this.#livenessTimer);
    const interval = this.#options.livenessIntervalMs;
    this.#livenessTimer = setInterval(() => {
      const transport = this.#current;
      if (transport === undefined) return;
      if (Date.now() - this.#lastActivity > 2 * interval) {
        this.#restart();
        return;
      }
      // WebSocket pings are invisible to browsers: ask for a pong so silence means death.
      if (transport.name === 'websocket') void transport.ping(interval);
    }, interval);
  }

  #setState(state: ClientState): void {
    if (this.#stateValue === state) return;
    this.#stateValue = state;
    this.#emit('state', state);
  }

  #fail(error: SwitchboardClientError): void {
    this.#emit('failed', error);
    this.close();
  }
}
