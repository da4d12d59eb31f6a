/**
 * What a session holds, by channel name. Most connections hold one channel (every
 * long-poll of one channel, most SSE and WebSocket clients), so the first entry lives in
 * two fields and a `Map` is made only for a second one: a V8 `Map` costs ~180 bytes even
 * with one entry, and every held long-poll is a session (measured: `bench/heap-live.cjs`).
 *
 * A `Map`'s contract for what a session uses, except iteration order: the entry in the
 * fields comes first, then the others in insertion order.
 */
export class ChannelTable<V> {
  private firstKey: string | undefined = undefined;
  private firstValue: V | undefined = undefined;
  private rest: Map<string, V> | undefined = undefined;

  get size(): number {
    return (this.firstKey === undefined ? 0 : 1) + (this.rest === undefined ? 0 : this.rest.size);
  }

  has(channel: string): boolean {
    return channel === this.firstKey || (this.rest !== undefined && this.rest.has(channel));
  }

  get(channel: string): V | undefined {
    return channel === this.firstKey ? this.firstValue : this.rest?.get(channel);
  }

  set(channel: string, value: V): void {
    if (channel === this.firstKey || (this.firstKey === undefined && this.rest?.has(channel) !== true)) {
      this.firstKey = channel;
      this.firstValue = value;
      return;
    }
    (this.rest ??= new Map()).set(channel, value);
  }

  delete(channel: string): boolean {
    if (channel === this.firstKey) {
      this.firstKey = undefined;
      this.firstValue = undefined;
      return true;
    }
    return this.rest !== undefined && this.rest.delete(channel);
  }

  /**
   * Every entry; `fn` may delete entries (the one it is given or others) as it goes. With
   * `thisArg` (as `Map.forEach`), a method can be passed as is: no closure per call.
   */
  forEach<T>(fn: (this: T, value: V, channel: string) => void, thisArg?: T): void {
    const key = this.firstKey;
    if (key !== undefined) fn.call(thisArg as T, this.firstValue as V, key);
    this.rest?.forEach(fn, thisArg);
  }

  clear(): void {
    this.firstKey = undefined;
    this.firstValue = undefined;
    this.rest = undefined;
  }
}
