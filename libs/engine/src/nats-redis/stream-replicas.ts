import type { JetStreamManager } from '@nats-io/jetstream';
import { EngineLogger, noopLogger } from '../engine-options';

/**
 * Brings an existing stream (or KV bucket's stream, `KV_<bucket>`) to `replicas`
 * (NATS_STREAM_REPLICAS): NATS moves a stream between R1 and R3 in place on a JetStream
 * cluster. When the server refuses (one server asked for R3, a cluster with fewer nodes
 * than replicas) the error says what NATS said and what to do, instead of running on
 * fewer copies than configured.
 */
export async function applyStreamReplicas(
  jsm: JetStreamManager,
  stream: string,
  replicas: number,
  logger: EngineLogger = noopLogger,
): Promise<void> {
  const info = await jsm.streams.info(stream);
  const current = info.config.num_replicas ?? 1;
  if (current === replicas) return;
  try {
    await jsm.streams.update(stream, { num_replicas: replicas });
  } catch (err) {
    throw new StreamReplicasError(stream, current, replicas, (err as Error).message, { cause: err });
  }
  logger.info({ stream, from: current, to: replicas }, 'stream replicas changed (NATS_STREAM_REPLICAS)');
}

export class StreamReplicasError extends Error {
  readonly code = 'stream_replicas';

  constructor(stream: string, current: number, wanted: number, natsMessage: string, options?: ErrorOptions) {
    super(
      `stream ${stream} has ${current} replica(s) and NATS_STREAM_REPLICAS=${wanted}, but NATS refused the change: ${natsMessage}. ` +
        (wanted > 1
          ? `Run a JetStream cluster of at least ${wanted} servers (every server with -js and the same cluster name), or set NATS_STREAM_REPLICAS=${current}.`
          : `Set NATS_STREAM_REPLICAS=${current}, or change the stream with: nats stream edit ${stream} --replicas ${wanted}.`),
      options,
    );
    this.name = 'StreamReplicasError';
  }
}
