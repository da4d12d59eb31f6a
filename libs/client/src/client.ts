import { BackoffOptions, backoffDelay, DEFAULT_BACKOFF } from './backoff';
import { Emitter } from './emitter';
import { RtcRoom, RtcRoomOptions } from './rtc-room';
import { MemoryPositionStore, PositionStore } from './position-store';
import { Subscription, SubscriptionOptions } from './subscription';
import { LongPollTransport } from './transports/longpoll';
import { SseTransport } from './transports/sse';
import { CloseInfo, Transport, TransportContext, TransportHandlers } from './transports/transport';
import { WebSocketTransport } from './transports/websocket';
import { ClientState, Message, Position, SwitchboardClientError, TokenReason, TransportName } from './types';

export interface ClientOptions {
  /** A fixed token, or… */
  token?: string;
  /** …a function returning one (called at start, before expiry and after a 401/4001); `null` ends the client. */
  getToken?: (reason: TokenReason) => Promise<string | null> | string | null;
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

export interface ClientEvents {
  state: ClientState;
  transport: TransportName;
  error: SwitchboardClientError;
  /** Each reconnect attempt: its number and the delay chosen (for observability). */
  reconnect: { attempt: number; delayMs: number; transport: TransportName };
}

/** Per-channel bookkeeping: the subscription and the dedupe floor of the current epoch. */
interface ChannelState {
  subscription: Subscription;
  /** Epoch of the messages received; offsets at or below `floor` in it are duplicates. */
  epoch?: string;
  floor: number;
  /** Set once the channel had a message or a start position (gap detection needs a base). */
  live: boolean;
}

/** A connection closed sooner than this after opening counts as a cut (proxies that kill WebSockets). */
const QUICK_CUT_MS = 5000;

/**
 * The Switchboard client: subscriptions that survive reconnects, transport switches and
 * gateway restarts without losing or duplicating a message.
 */
export class SwitchboardClient extends Emitter<ClientEvents> {
  private readonly channels = new Map<string, ChannelState>();
  private readonly store: PositionStore;
  private readonly order: TransportName[];
  private readonly backoff: BackoffOptions;
  private transportIndex = 0;
  private failures = 0;
  private attempt = 0;
  private transport?: Transport;
  private openedAt = 0;
  private token?: string;
  private stateValue: ClientState = 'connecting';
  private reconnectTimer?: ReturnType<typeof setTimeout>;
  private refreshTimer?: ReturnType<typeof setTimeout>;
  private livenessTimer?: ReturnType<typeof setInterval>;
  private lastActivity = 0;
  private readonly waitingForOpen: Array<() => void> = [];
  private readonly removeBrowserHooks: Array<() => void> = [];

  constructor(
    readonly url: string,
    private readonly options: ClientOptions,
  ) {
    super();
    this.store = options.positionStore ?? new MemoryPositionStore();
    this.order = options.transports?.length ? [...options.transports] : ['websocket', 'sse', 'longpoll'];
    this.backoff = { ...DEFAULT_BACKOFF, ...options.backoff };
    this.installBrowserHooks();
    void this.connect('initial');
  }

  get state(): ClientState {
    return this.stateValue;
  }

  /** The transport in use (or being tried). */
  get transportName(): TransportName {
    return this.order[this.transportIndex];
  }

  /** The last position of a channel (what a resume starts after). */
  position(channel: string): Position | undefined {
    return this.store.get(channel);
  }

  subscribe<T = unknown>(channel: string, options: SubscriptionOptions = {}): Subscription<T> {
    if (this.stateValue === 'closed') throw new SwitchboardClientError('closed', 'client is closed', channel);
    if (this.channels.has(channel)) throw new SwitchboardClientError('already_subscribed', `already subscribed to ${channel}`, channel);
    const subscription = new Subscription<T>(channel, options, (s) => this.release(s as Subscription));
    if (options.since !== undefined) this.store.set(channel, options.since);
    const since = this.store.get(channel);
    this.channels.set(channel, {
      subscription: subscription as Subscription,
      epoch: since?.epoch,
      floor: since?.offset ?? 0,
      live: since !== undefined,
    });
    this.transport?.subscribe(channel, since);
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
      if (this.stateValue === 'closed') throw new SwitchboardClientError('closed', 'client is closed', channel);
      if (this.transportName !== 'websocket' && this.stateValue === 'connected') {
        throw new SwitchboardClientError('unsupported', `publish needs the WebSocket transport (using ${this.transportName})`, channel);
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new SwitchboardClientError('timeout', 'publish not acknowledged in time', channel);
      if (this.stateValue !== 'connected' || this.transport === undefined) {
        await Promise.race([new Promise<void>((r) => this.waitingForOpen.push(r)), sleep(left)]);
        continue;
      }
      try {
        return await this.transport.publish(channel, data, key, left);
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
  async iceServers(): Promise<{ iceServers: RTCIceServer[]; ttl: number }> {
    const token = await this.currentToken();
    const res = await (this.options.fetch ?? globalThis.fetch)(`${this.url.replace(/\/+$/, '')}/v1/webrtc/ice-servers`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    if (res.status !== 200) throw new SwitchboardClientError(String(res.status), `ice-servers answered ${res.status}`);
    return (await res.json()) as { iceServers: RTCIceServer[]; ttl: number };
  }

  /** Joins the WebRTC room `rtc:<room>` (perfect negotiation with one peer); see RtcRoom. */
  rtcRoom(room: string, options: RtcRoomOptions = {}): RtcRoom {
    const sub =
      this.token !== undefined ? tokenSubject(this.token) : this.options.token !== undefined ? tokenSubject(this.options.token) : undefined;
    if (sub === undefined) throw new SwitchboardClientError('unauthorized', 'the token has no "sub" yet; call rtcRoom once connected');
    return new RtcRoom(this, room, sub, options);
  }

  /** Closes the client and every subscription. */
  close(): void {
    if (this.stateValue === 'closed') return;
    this.setState('closed');
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.refreshTimer);
    clearInterval(this.livenessTimer);
    for (const remove of this.removeBrowserHooks) remove();
    this.transport?.close();
    this.transport = undefined;
    for (const c of [...this.channels.values()]) c.subscription.unsubscribe();
    for (const wake of this.waitingForOpen.splice(0)) wake();
  }

  /** Checks the connection now (browser tab visible again, network back): reconnects if it is dead. */
  async checkNow(): Promise<void> {
    if (this.stateValue === 'closed') return;
    if (this.stateValue !== 'connected' || this.transport === undefined) {
      this.reconnectSoon(0);
      return;
    }
    const alive = await this.transport.ping(5000);
    if (!alive && this.stateValue === 'connected') this.restart();
  }

  private async currentToken(): Promise<string> {
    while (this.token === undefined) {
      if (this.stateValue === 'closed') throw new SwitchboardClientError('closed', 'client is closed');
      await new Promise<void>((r) => this.waitingForOpen.push(r));
    }
    return this.token;
  }

  private async connect(reason: TokenReason): Promise<void> {
    if (this.stateValue === 'closed') return;
    this.setState('connecting');
    const token = await this.obtainToken(reason);
    if (token === null) return;
    this.token = token;
    this.scheduleRefresh(token);
    const name = this.transportName;
    this.emit('transport', name);
    // Events of a transport that is no longer the current one are ignored.
    const slot: { owner?: Transport } = {};
    const ctx: TransportContext = {
      baseUrl: this.url.replace(/\/+$/, ''),
      token,
      channels: () => {
        const held = new Map<string, Position | undefined>();
        for (const channel of this.channels.keys()) held.set(channel, this.store.get(channel));
        return held;
      },
      handlers: this.handlersFor(() => slot.owner),
      WebSocket: this.options.WebSocket,
      fetch: this.options.fetch ?? globalThis.fetch.bind(globalThis),
      pollTimeoutSeconds: this.options.pollTimeoutSeconds ?? 25,
    };
    const transport =
      name === 'websocket' ? new WebSocketTransport(ctx) : name === 'sse' ? new SseTransport(ctx) : new LongPollTransport(ctx);
    slot.owner = transport;
    this.transport = transport;
    this.lastActivity = Date.now();
    transport.start();
  }

  private async obtainToken(reason: TokenReason): Promise<string | null> {
    if (this.options.getToken === undefined) {
      if (reason === 'unauthorized' || this.options.token === undefined) {
        this.fail(new SwitchboardClientError('unauthorized', 'the token was refused and no getToken is configured'));
        return null;
      }
      return this.options.token;
    }
    try {
      const token = await this.options.getToken(reason);
      if (token === null) {
        this.fail(new SwitchboardClientError('unauthorized', 'getToken returned null'));
        return null;
      }
      return token;
    } catch (err) {
      this.emit('error', new SwitchboardClientError('token', `getToken failed: ${(err as Error).message}`));
      this.reconnectSoon();
      return null;
    }
  }

  /** Refreshes the token shortly before it expires, then reconnects with it (positions make that lossless). */
  private scheduleRefresh(token: string): void {
    clearTimeout(this.refreshTimer);
    if (this.options.getToken === undefined) return;
    const exp = tokenExpiry(token);
    if (exp === undefined) return;
    const lifetime = exp - Date.now();
    const at = Math.max(1000, Math.min(lifetime - 30_000, lifetime * 0.9));
    this.refreshTimer = setTimeout(
      () => {
        if (this.stateValue === 'closed') return;
        this.transport?.close();
        this.transport = undefined;
        void this.connect('refresh');
      },
      Math.min(at, 2_147_483_647),
    );
  }

  private handlersFor(owner: () => Transport | undefined): TransportHandlers {
    const current = (): boolean => owner() !== undefined && owner() === this.transport;
    return {
      open: () => {
        if (!current()) return;
        this.openedAt = Date.now();
        this.attempt = 0;
        this.setState('connected');
        this.startLiveness();
        for (const wake of this.waitingForOpen.splice(0)) wake();
      },
      subscribed: (channel, position, recovered) => {
        if (!current()) return;
        const c = this.channels.get(channel);
        if (c === undefined) return;
        const stored = this.store.get(channel);
        if (stored === undefined) {
          // A fresh start: the stream begins after this position.
          c.epoch = position.epoch;
          c.floor = position.offset;
          this.store.set(channel, position);
        } else if (stored.epoch !== position.epoch) {
          // Offsets restarted in a new epoch: take its messages from the first one the server
          // still has. The resume point moves only as they arrive, so a cut meanwhile loses none.
          c.epoch = position.epoch;
          c.floor = 0;
          this.store.set(channel, { offset: 0, epoch: position.epoch });
          if (recovered !== false) this.lost(c);
        }
        // Resuming in the same epoch: the position stays until the missed messages arrive
        // (a WS reply carries the channel's current offset, not the resume point).
        c.live = true;
        if (recovered === false) {
          // The missed messages are gone: go on from where the server resumes.
          this.store.set(channel, position);
          this.lost(c);
        }
        c.subscription.notify('subscribed', { channel, position, recovered });
      },
      position: (channel, position) => {
        if (!current()) return;
        // Only a loss moves the resume point without messages; otherwise messages move it
        // (so a pending gap repair is not skipped).
        const c = this.channels.get(channel);
        if (c !== undefined && !c.live) this.store.set(channel, position);
      },
      message: (m) => {
        if (current()) this.onMessage(m);
      },
      recovery: (channel) => {
        if (!current()) return;
        const c = this.channels.get(channel);
        if (c !== undefined) this.lost(c);
      },
      channelError: (channel, code, message) => {
        if (!current()) return;
        const c = this.channels.get(channel);
        if (c === undefined || code === 'already_subscribed') return;
        if (code === 'unavailable' || code === 'timeout') {
          // The gateway could not subscribe now (engine unavailable, or no reply): ask
          // again, or the subscription would stay silent until the next reconnect.
          setTimeout(
            () => {
              if (current() && this.channels.get(channel) === c) this.transport?.subscribe(channel, this.store.get(channel));
            },
            backoffDelay(1, this.backoff) + 100,
          );
          return;
        }
        c.subscription.fail(new SwitchboardClientError(code, message, channel));
      },
      activity: () => {
        this.lastActivity = Date.now();
      },
      close: (info) => {
        if (!current()) return;
        this.onTransportClose(info);
      },
    };
  }

  private onMessage(m: Message): void {
    const c = this.channels.get(m.channel);
    if (c === undefined) return;
    if (c.epoch !== m.epoch) {
      // A new epoch the server did not announce to us: a loss we report, then follow.
      if (c.epoch !== undefined) this.lost(c);
      c.epoch = m.epoch;
      c.floor = 0;
    }
    if (m.offset <= c.floor) return;
    if (c.live && m.offset > c.floor + 1 && c.floor > 0) {
      // A hole in live delivery: fetch it by resubscribing from the last position.
      this.resync(m.channel, { offset: c.floor, epoch: m.epoch });
      return;
    }
    c.floor = m.offset;
    c.live = true;
    const stored = this.store.get(m.channel);
    if (stored === undefined || stored.epoch !== m.epoch || m.offset > stored.offset)
      this.store.set(m.channel, { offset: m.offset, epoch: m.epoch });
    c.subscription.deliver(m);
  }

  /** Messages were lost for good: the next one is taken as the new start, not as a gap. */
  private lost(c: ChannelState): void {
    c.live = false;
    c.subscription.notify('recovery', { channel: c.subscription.channel, recovered: false });
  }

  private resync(channel: string, from: Position): void {
    this.store.set(channel, from);
    this.transport?.unsubscribe(channel);
    this.transport?.subscribe(channel, from);
  }

  private release(subscription: Subscription): void {
    const c = this.channels.get(subscription.channel);
    if (c?.subscription !== subscription) return;
    this.channels.delete(subscription.channel);
    this.transport?.unsubscribe(subscription.channel);
  }

  private onTransportClose(info: CloseInfo): void {
    this.transport = undefined;
    clearInterval(this.livenessTimer);
    if (this.stateValue === 'closed') return;
    this.setState('disconnected');
    if (info.fatal === true) {
      this.fail(new SwitchboardClientError('policy', info.reason ?? `refused (${info.code ?? 'no code'})`));
      return;
    }
    if (info.unauthorized === true) {
      void this.connect('unauthorized');
      return;
    }
    // Fallback: a transport that cannot open, or is cut again and again right after opening, is demoted.
    const quickCut = info.opened && Date.now() - this.openedAt < QUICK_CUT_MS && info.code !== 1012 && info.code !== 1013;
    if (!info.opened || quickCut) {
      this.failures++;
      if (this.failures >= (this.options.fallbackAfter ?? 2) && this.transportIndex < this.order.length - 1) {
        this.transportIndex++;
        this.failures = 0;
        this.attempt = 0;
      }
    } else {
      this.failures = 0;
    }
    const advised = info.retryAfterMs;
    this.reconnectSoon(advised !== undefined ? advised + backoffDelay(0, this.backoff) : undefined);
  }

  private reconnectSoon(delayMs?: number): void {
    if (this.stateValue === 'closed' || this.reconnectTimer !== undefined) return;
    if (this.attempt >= this.backoff.maxAttempts) {
      this.fail(new SwitchboardClientError('unavailable', `gave up after ${this.attempt} attempts`));
      return;
    }
    const delay = delayMs ?? backoffDelay(this.attempt, this.backoff);
    this.attempt++;
    this.emit('reconnect', { attempt: this.attempt, delayMs: delay, transport: this.transportName });
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect('initial');
    }, delay);
  }

  /** Drops the current connection and reconnects at once (dead connection found). */
  private restart(): void {
    const transport = this.transport;
    this.transport = undefined;
    transport?.close();
    this.setState('disconnected');
    this.reconnectSoon(0);
  }

  private startLiveness(): void {
    clearInterval(this.livenessTimer);
    const interval = this.options.livenessIntervalMs ?? 20_000;
    this.livenessTimer = setInterval(() => {
      if (this.transport === undefined) return;
      if (Date.now() - this.lastActivity > 2 * interval) {
        this.restart();
        return;
      }
      // WebSocket pings are invisible to browsers: ask for a pong so silence means death.
      if (this.transport.name === 'websocket') void this.transport.ping(interval);
    }, interval);
  }

  /** Browsers: network back, tab visible again, page restored from the back/forward cache. */
  private installBrowserHooks(): void {
    const w = globalThis as unknown as {
      addEventListener?: typeof addEventListener;
      removeEventListener?: typeof removeEventListener;
      document?: Document;
    };
    if (typeof w.addEventListener !== 'function' || w.document === undefined) return;
    const check = (): void => void this.checkNow();
    const online = (): void => {
      this.attempt = 0;
      check();
    };
    const visible = (): void => {
      if (w.document?.visibilityState === 'visible') check();
    };
    w.addEventListener('online', online);
    w.addEventListener('pageshow', check);
    w.document.addEventListener('visibilitychange', visible);
    this.removeBrowserHooks.push(
      () => w.removeEventListener?.('online', online),
      () => w.removeEventListener?.('pageshow', check),
      () => w.document?.removeEventListener('visibilitychange', visible),
    );
  }

  private setState(state: ClientState): void {
    if (this.stateValue === state) return;
    this.stateValue = state;
    this.emit('state', state);
  }

  private fail(error: SwitchboardClientError): void {
    this.emit('error', error);
    this.close();
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

/** `exp` of a JWT in ms, read without verifying (the server verifies). */
export function tokenExpiry(token: string): number | undefined {
  try {
    const payload = token.split('.')[1];
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (payload.length % 4)) % 4));
    const exp = (JSON.parse(json) as { exp?: unknown }).exp;
    return typeof exp === 'number' ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

/** `sub` of a JWT, read without verifying (for the WebRTC room helper). */
export function tokenSubject(token: string): string | undefined {
  try {
    const payload = token.split('.')[1];
    const json = atob(payload.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (payload.length % 4)) % 4));
    const sub = (JSON.parse(json) as { sub?: unknown }).sub;
    return typeof sub === 'string' ? sub : undefined;
  } catch {
    return undefined;
  }
}
