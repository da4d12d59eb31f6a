/**
 * What the ingest remembers per source, for WEBHOOK_DEDUPE_SECONDS: delivery ids already
 * stored (the long dedupe window; JetStream's Nats-Msg-Id window covers concurrent
 * retries) and, for schemes that sign no timestamp, the signatures already verified (a
 * captured request re-sent with another delivery id is a replay). Redis shares both
 * across replicas; the memory engine keeps them in process, bounded.
 */
/** What the ledger says of a verified delivery before it is stored. */
export type Admission = 'new' | 'stored' | 'replayed';

export interface DeliveryLedger {
  /**
   * One round trip before storing: `replayed` when `signature` (given for schemes that sign
   * no timestamp) was already verified for another delivery id — otherwise it is claimed
   * for this one — then `stored` when an event with this delivery id was stored for the
   * source within the window, else `new`.
   */
  admit(source: string, deliveryId: string, signature?: string): Promise<Admission>;
  /** Records a stored delivery; called only after the event bus acknowledged it. */
  markStored(source: string, deliveryId: string): Promise<void>;
}

/** A Map with a time-to-live per entry and a size bound; the oldest entries go first. */
class BoundedTtlMap<V> {
  private readonly entries = new Map<string, { value: V; expiresAt: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly ttlMs: number,
    private readonly clock: () => number,
  ) {}

  get(key: string): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.clock()) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, value: V): void {
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt: this.clock() + this.ttlMs });
    // Insertion order is expiry order (one TTL for all): the first entries are the oldest.
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
  }
}

/** Entries kept per source and per kind by the in-process ledger. */
export const MEMORY_LEDGER_MAX_ENTRIES = 50_000;

/**
 * The ledger of the memory engine (`npm start`): per source, at most
 * MEMORY_LEDGER_MAX_ENTRIES delivery ids and as many signatures, each for the window.
 */
export class MemoryDeliveryLedger implements DeliveryLedger {
  private readonly deliveries = new Map<string, BoundedTtlMap<true>>();
  private readonly signatures = new Map<string, BoundedTtlMap<string>>();

  constructor(
    private readonly windowSeconds: number,
    private readonly clock: () => number = Date.now,
    private readonly maxEntries = MEMORY_LEDGER_MAX_ENTRIES,
  ) {}

  admit(source: string, deliveryId: string, signature?: string): Promise<Admission> {
    if (signature !== undefined) {
      const seen = this.map(this.signatures, source);
      const previous = seen.get(signature);
      if (previous === undefined) seen.set(signature, deliveryId);
      else if (previous !== deliveryId) return Promise.resolve('replayed');
    }
    return Promise.resolve(this.map(this.deliveries, source).get(deliveryId) === true ? 'stored' : 'new');
  }

  markStored(source: string, deliveryId: string): Promise<void> {
    this.map(this.deliveries, source).set(deliveryId, true);
    return Promise.resolve();
  }

  private map<V>(maps: Map<string, BoundedTtlMap<V>>, source: string): BoundedTtlMap<V> {
    let map = maps.get(source);
    if (map === undefined) {
      map = new BoundedTtlMap<V>(this.maxEntries, this.windowSeconds * 1000, this.clock);
      maps.set(source, map);
    }
    return map;
  }
}
