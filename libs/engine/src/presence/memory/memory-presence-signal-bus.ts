import { BusListener } from '../../fanout-bus';
import { PresenceSignal, PresenceSignalBus } from '../presence-signal-bus';

/**
 * Join/leave signals in one process. Delivery is asynchronous like a network bus, so an
 * announcement never re-enters a listener from inside the call that decided it.
 */
export class MemoryPresenceSignalBus implements PresenceSignalBus {
  private readonly listeners = new Map<string, Set<(s: PresenceSignal) => void>>();

  announce(signal: PresenceSignal): void {
    const set = this.listeners.get(signal.channel);
    if (set === undefined) return;
    queueMicrotask(() => {
      for (const fn of set) fn(signal);
    });
  }

  flush(): Promise<void> {
    return Promise.resolve();
  }

  listen(channel: string, onSignal: (s: PresenceSignal) => void): Promise<BusListener> {
    let set = this.listeners.get(channel);
    if (set === undefined) this.listeners.set(channel, (set = new Set()));
    const fn = (s: PresenceSignal): void => onSignal(s);
    set.add(fn);
    return Promise.resolve({
      close: () => {
        set.delete(fn);
        if (set.size === 0 && this.listeners.get(channel) === set) this.listeners.delete(channel);
      },
    });
  }

  onResumed(): void {
    // An in-process bus never disconnects.
  }

  isReady(): boolean {
    return true;
  }

  close(): Promise<void> {
    this.listeners.clear();
    return Promise.resolve();
  }
}
