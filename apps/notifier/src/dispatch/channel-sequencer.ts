/**
 * Runs tasks concurrently except that tasks sharing a key (a channel) run one after
 * another, in the order they were scheduled: an event's channel publishes keep the
 * stream order of the events on every channel while unrelated channels proceed in parallel.
 */
export class ChannelSequencer {
  /** The last scheduled task per key; removed once it settles and nothing queued behind it. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Schedules `task` after every earlier task holding one of `keys`; resolves/rejects with it. */
  run<T>(keys: readonly string[], task: () => Promise<T>): Promise<T> {
    const before: Promise<void>[] = [];
    for (const key of keys) {
      const tail = this.tails.get(key);
      if (tail !== undefined) before.push(tail);
    }
    const result = (before.length === 0 ? Promise.resolve() : Promise.all(before)).then(task);
    const done = result.then(
      () => undefined,
      () => undefined,
    );
    for (const key of keys) this.tails.set(key, done);
    void done.then(() => {
      for (const key of keys) if (this.tails.get(key) === done) this.tails.delete(key);
    });
    return result;
  }

  /** Keys with a task scheduled or running. */
  get busyKeys(): number {
    return this.tails.size;
  }
}
