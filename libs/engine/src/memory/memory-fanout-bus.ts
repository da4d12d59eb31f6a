import { BusListener, FanoutBus } from '../fanout-bus';
import { StoredMessage } from '../stored-message';

/**
 * In-process fan-out. Several engines may share one bus (pods in one test); delivery is
 * asynchronous like a network bus, so a publish never re-enters a listener synchronously.
 */
export class MemoryFanoutBus implements FanoutBus {
  private readonly listeners = new Map<string, Set<(m: StoredMessage) => void>>();
  private count = 0;

  announce(message: StoredMessage): void {
    const set = this.listeners.get(message.channel);
    if (set === undefined) return;
    queueMicrotask(() => {
      for (const fn of set) fn(message);
    });
  }

  listen(channel: string, onMessage: (m: StoredMessage) => void): Promise<BusListener> {
    let set = this.listeners.get(channel);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    const fn = (m: StoredMessage): void => onMessage(m);
    set.add(fn);
    this.count++;
    let open = true;
    return Promise.resolve({
      close: () => {
        if (!open) return;
        open = false;
        this.count--;
        set.delete(fn);
        if (set.size === 0 && this.listeners.get(channel) === set) this.listeners.delete(channel);
      },
    });
  }

  onResumed(): void {
    // An in-process bus never disconnects.
  }

  listenerCount(): number {
    return this.count;
  }

  isReady(): boolean {
    return true;
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
