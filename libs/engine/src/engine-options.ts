/** Minimal structured logger (pino-compatible) so the engine stays framework-free. */
export interface EngineLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

/** Hooks for metrics; the observability lib implements them with prom-client. */
export interface EngineMetrics {
  published(duplicate: boolean): void;
  /** A gap in live delivery was filled from history, or could not be (`lost`). */
  gapRepaired(outcome: 'filled' | 'lost'): void;
  /** A subscribe with `since` completed (`recovered` true/false). */
  recovery(recovered: boolean): void;
  /** A fan-out message reached this process with no local subscriber for its channel. */
  discarded(): void;
  /** Channels this process currently holds a fan-out subscription for. */
  feeds(count: number): void;
}

export const noopLogger: EngineLogger = { debug() {}, info() {}, warn() {}, error() {} };
export const noopMetrics: EngineMetrics = { published() {}, gapRepaired() {}, recovery() {}, discarded() {}, feeds() {} };

export interface EngineOptions {
  /** Largest message JSON accepted by publish, bytes (MAX_MESSAGE_BYTES). */
  maxMessageBytes: number;
  /** How long a hole in live delivery may wait for the missing fan-out before it is read from history. */
  gapWaitMs: number;
  /** Read the hole at once when this many messages wait behind it (a burst must not push it out of history). */
  gapImmediateCount: number;
  /** Interval of the check that catches holes no later message reveals (a quiet channel); 0 turns it off. */
  syncIntervalMs: number;
  /** Messages a channel may hold behind a hole before the hole is declared lost. */
  maxPending: number;
  /**
   * How long a hole that history no longer holds is still waited for on the fan-out bus
   * before subscribers are told it is lost: under load the bus can lag the store by more
   * than a whole history, so a message trimmed from history may still be on its way.
   * Delivery of the channel waits behind the hole meanwhile (only in this rare case).
   */
  lossWaitMs: number;
  /**
   * Messages a channel's feed keeps after delivering them once a long-poll has subscribed,
   * for the next polls a few messages behind (`recentAfter`); 0 keeps none. Never more than
   * the store's history size, so a poll is answered nothing the store would not answer.
   */
  recentMessages: number;
  logger: EngineLogger;
  metrics: EngineMetrics;
}

export const DEFAULT_ENGINE_OPTIONS: EngineOptions = {
  maxMessageBytes: 65536,
  gapWaitMs: 20,
  gapImmediateCount: 4,
  syncIntervalMs: 2000,
  maxPending: 10000,
  lossWaitMs: 1000,
  recentMessages: 0,
  logger: noopLogger,
  metrics: noopMetrics,
};
