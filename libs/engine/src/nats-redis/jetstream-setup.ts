import { JetStreamApiError } from '@nats-io/jetstream';
import { errors } from '@nats-io/nats-core';
import { EngineLogger } from '../engine-options';

/**
 * Whether a JetStream API call failed in a way a cluster recovers from by itself: the
 * request timed out or found no responder (a server still starting JetStream, or a
 * cluster without a metadata leader during an election), or JetStream answered 503
 * ("temporarily unavailable", no quorum for the stream yet). Anything else (a refused
 * setting, a bad name) is an answer, not a state to wait out.
 */
export function isTransientJetStreamError(err: unknown): boolean {
  // nats.js turns "no responders" into JetStreamNotEnabled, a class it does not export.
  if (err instanceof errors.TimeoutError || (err instanceof Error && err.name === 'JetStreamNotEnabled')) return true;
  if (err instanceof errors.RequestError) return err.isNoResponders() || err.cause instanceof errors.TimeoutError;
  return err instanceof JetStreamApiError && err.status === 503;
}

/**
 * Runs an idempotent JetStream setup step (stream or consumer info → create or update)
 * until it succeeds, retrying transient failures for at most `timeoutMs` (the process's
 * STARTUP_TIMEOUT_SECONDS) with a capped backoff: a service that starts while the
 * cluster elects a leader waits it out instead of exiting with `timeout`, as it waits
 * for a server it cannot reach yet. `timeoutMs` 0 runs the step once.
 */
export async function retryJetStreamSetup<T>(what: string, step: () => Promise<T>, timeoutMs: number, logger: EngineLogger): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (err) {
      const waitMs = Math.min(250 * 2 ** attempt, 2000);
      if (!isTransientJetStreamError(err) || Date.now() + waitMs > deadline) throw err;
      logger.warn({ what, attempt: attempt + 1, err: (err as Error).message, retryInMs: waitMs }, 'JetStream not available yet; retrying');
      await new Promise((resolve) => setTimeout(resolve, waitMs));
    }
  }
}
