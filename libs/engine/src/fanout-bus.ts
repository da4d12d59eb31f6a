import { StoredMessage } from './stored-message';

/** One process's interest in one channel's fan-out traffic. */
export interface BusListener {
  close(): void;
}

/**
 * Non-durable fan-out between processes: the publisher announces each stored message,
 * every process listening on the channel gets it. Delivery may be lost or reordered;
 * the engine's feeds repair that from the store. Implementations: memory/, nats-redis/ (NATS core).
 */
export interface FanoutBus {
  announce(message: StoredMessage): void;
  /** Resolves once the server has registered the interest (no announce after it is missed). */
  listen(channel: string, onMessage: (message: StoredMessage) => void): Promise<BusListener>;
  /**
   * Called after the bus reconnected: announcements made while it was away are lost, so
   * every listened channel must catch up from the store.
   */
  onResumed(callback: () => void): void;
  /** Channels this process currently listens to (interest-based subscription count). */
  listenerCount(): number;
  isReady(): boolean;
  close(): Promise<void>;
}
