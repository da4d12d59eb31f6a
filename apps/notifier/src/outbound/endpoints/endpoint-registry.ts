import type { EngineLogger } from '@switchboard/engine';
import { setTimeout as sleep } from 'node:timers/promises';
import { globToRegExp } from '../../routing/event-router';
import type { KeyObject } from 'node:crypto';
import { webhookSigningKey } from '../signing/webhook-secret';
import type { SigningKeys, WebhookFormat } from '../signing/webhook-format';
import { WEBHOOK_FORMATS } from '../signing/webhook-formats';
import type { Endpoint } from './endpoint';
import { EndpointChange, EndpointStore, EndpointWatch, RevisionConflict, StoredEndpoint } from './endpoint-store';

/** An endpoint ready for delivery: its format, compiled patterns and decoded keys. */
export class ActiveEndpoint {
  readonly format: WebhookFormat;
  private readonly patterns: RegExp[];
  private readonly keys: Array<{ key: KeyObject; expiresAt: number }>;
  /** The keys of now, reused until the next expiry (built per attempt otherwise). */
  private signing: SigningKeys = { keys: [] };
  private signingValidUntil = -Infinity;

  constructor(
    readonly endpoint: Endpoint,
    readonly revision: number,
  ) {
    this.format = WEBHOOK_FORMATS[endpoint.format];
    this.patterns = endpoint.events.map(globToRegExp);
    this.keys = endpoint.secrets.map((s) => ({
      key: webhookSigningKey(s.secret),
      expiresAt: s.expiresAt === undefined ? Infinity : Date.parse(s.expiresAt),
    }));
  }

  get id(): string {
    return this.endpoint.id;
  }

  wants(type: string): boolean {
    return this.patterns.some((p) => p.test(type));
  }

  /** The keys that sign at `now`: current first, then a previous one inside its overlap. */
  signingKeys(now: number): SigningKeys {
    if (now < this.signingValidUntil) return this.signing;
    const active = this.keys.filter((k) => k.expiresAt > now);
    this.signing = { keys: active.map((k) => k.key), ...(this.endpoint.pusherKey === undefined ? {} : { keyId: this.endpoint.pusherKey }) };
    this.signingValidUntil = Math.min(...active.map((k) => k.expiresAt));
    return this.signing;
  }
}

/** Told of every endpoint that appears, changes (`active` set) or goes (`active` undefined). */
export type RegistryListener = (id: string, active: ActiveEndpoint | undefined) => void;

/** Distinct event types whose matches are remembered; past it the memo starts over. */
const MATCH_MEMO_LIMIT = 10_000;
/** Pause before watching again after the watch broke. */
const REWATCH_DELAY_MS = 1000;
/** Read-modify-write attempts before a concurrent writer wins. */
const MUTATE_ATTEMPTS = 10;

/**
 * This replica's live copy of the endpoint registry: loaded at start, kept current by the
 * store's watch, and asked by the fan-out which endpoints want an event type (memoised
 * per type, so the per-event cost does not grow with the number of patterns).
 */
export class EndpointRegistry {
  private readonly endpoints = new Map<string, ActiveEndpoint>();
  private readonly listeners: RegistryListener[] = [];
  private memo = new Map<string, ActiveEndpoint[]>();
  /** Revisions at which ids were deleted: a late, older put must not bring them back. */
  private readonly tombstones = new Map<string, number>();
  private watch?: EndpointWatch;
  private stopped = false;
  private started = false;

  constructor(
    readonly store: EndpointStore,
    private readonly logger: EngineLogger,
    /** Writes endpoints that come from config (PUSHER_APPS' webhooks) before the registry loads. */
    private readonly seed?: (store: EndpointStore) => Promise<void>,
  ) {}

  /** Loads every endpoint and follows changes; resolves once the copy is complete. */
  async start(): Promise<void> {
    await this.store.ensure();
    await this.seed?.(this.store);
    await this.follow();
    this.started = true;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.watch?.stop();
  }

  get isStarted(): boolean {
    return this.started;
  }

  onChange(listener: RegistryListener): void {
    this.listeners.push(listener);
  }

  all(): ActiveEndpoint[] {
    return [...this.endpoints.values()];
  }

  get(id: string): ActiveEndpoint | undefined {
    return this.endpoints.get(id);
  }

  /** Enabled endpoints whose patterns match `type`. */
  match(type: string): readonly ActiveEndpoint[] {
    let found = this.memo.get(type);
    if (found === undefined) {
      found = [];
      for (const e of this.endpoints.values()) if (!e.endpoint.disabled && e.wants(type)) found.push(e);
      if (this.memo.size >= MATCH_MEMO_LIMIT) this.memo = new Map();
      this.memo.set(type, found);
    }
    return found;
  }

  /**
   * Read-modify-write of one endpoint against the store (compare-and-set, retried on
   * conflict). `change` returns the new endpoint, or undefined to leave it as it is.
   * Resolves with the stored result, or undefined when the endpoint does not exist.
   */
  async mutate(id: string, change: (e: Endpoint) => Endpoint | undefined): Promise<{ before: Endpoint; after: Endpoint } | undefined> {
    for (let attempt = 1; ; attempt++) {
      const current = await this.store.get(id);
      if (current === undefined) return undefined;
      const next = change(structuredClone(current.endpoint));
      if (next === undefined) return { before: current.endpoint, after: current.endpoint };
      try {
        const revision = await this.store.update(next, current.revision);
        this.apply({ kind: 'put', endpoint: next, revision });
        return { before: current.endpoint, after: next };
      } catch (err) {
        if (!(err instanceof RevisionConflict) || attempt >= MUTATE_ATTEMPTS) throw err;
      }
    }
  }

  /** Applies a change seen by the watch or made here; older revisions than what is held are ignored. */
  apply(change: EndpointChange): void {
    const id = change.kind === 'put' ? change.endpoint.id : change.id;
    const held = this.endpoints.get(id);
    if (held !== undefined && held.revision >= change.revision) return;
    if ((this.tombstones.get(id) ?? -1) >= change.revision) return;
    if (change.kind === 'put') this.set(new ActiveEndpoint(change.endpoint, change.revision));
    else {
      if (this.tombstones.size >= MATCH_MEMO_LIMIT) this.tombstones.clear();
      this.tombstones.set(id, change.revision);
      if (held !== undefined) this.remove(id);
    }
  }

  private async follow(): Promise<void> {
    // Ids the watch reported while the list was read: the list may be older than them.
    const seen = new Set<string>();
    const watch = await this.store.watch(
      (change) => {
        seen.add(change.kind === 'put' ? change.endpoint.id : change.id);
        this.apply(change);
      },
      (err) => void this.rewatch(err),
    );
    this.watch = watch;
    this.resync(watch.initial, seen);
  }

  /** After a broken watch: watch again and reconcile, until it works or the registry stops. */
  private async rewatch(err: unknown): Promise<void> {
    this.logger.warn({ err: err instanceof Error ? err.message : String(err) }, 'endpoint registry watch broke, watching again');
    while (!this.stopped) {
      await sleep(REWATCH_DELAY_MS);
      if (this.stopped) return;
      try {
        await this.follow();
        return;
      } catch (e) {
        this.logger.error({ err: e instanceof Error ? e.message : String(e) }, 'endpoint registry watch failed');
      }
    }
  }

  /** Makes the copy equal to `initial` (plus anything newer already seen). */
  private resync(initial: readonly StoredEndpoint[], seen: ReadonlySet<string>): void {
    const present = new Set<string>();
    for (const s of initial) {
      present.add(s.endpoint.id);
      this.apply({ kind: 'put', endpoint: s.endpoint, revision: s.revision });
    }
    // Gone while the watch was down (a delete the watch reported itself is already applied).
    for (const id of [...this.endpoints.keys()]) if (!present.has(id) && !seen.has(id)) this.remove(id);
  }

  private set(active: ActiveEndpoint): void {
    this.endpoints.set(active.id, active);
    this.memo = new Map();
    for (const l of this.listeners) l(active.id, active);
  }

  private remove(id: string): void {
    this.endpoints.delete(id);
    this.memo = new Map();
    for (const l of this.listeners) l(id, undefined);
  }
}
