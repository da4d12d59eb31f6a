import type { JetStreamManager } from '@nats-io/jetstream';
import { EngineLogger, noopLogger } from '../engine-options';

/**
 * Brings an existing stream (or KV bucket's stream, `KV_<bucket>`) to `replicas`
 * (NATS_STREAM_REPLICAS): NATS moves a stream between R1 and R3 in place on a JetStream
 * cluster. When it cannot (a single server, which would accept R3 and keep one copy; a
 * cluster with fewer nodes than replicas) the error says why and what to do, instead of
 * running on fewer copies than configured.
 */
export async function applyStreamReplicas(
  jsm: JetStreamManager,
  stream: string,
  replicas: number,
  logger: EngineLogger = noopLogger,
): Promise<void> {
  const info = await jsm.streams.info(stream);
  const current = info.config.num_replicas ?? 1;
  // A lone server accepts num_replicas 3 on update and keeps one copy: refuse to pretend.
  if (replicas > 1 && info.cluster?.name === undefined) {
    throw new StreamReplicasError(
      stream,
      current,
      replicas,
      'the NATS server is not part of a JetStream cluster, so it keeps one copy whatever the setting',
    );
  }
  if (current === replicas) return;
  try {
    await jsm.streams.update(stream, { num_replicas: replicas });
  } catch (err) {
    throw new StreamReplicasError(stream, current, replicas, `NATS refused the change: ${(err as Error).message}`, { cause: err });
  }
  logger.info({ stream, from: current, to: replicas }, 'stream replicas changed (NATS_STREAM_REPLICAS)');
}

export class StreamReplicasError extends Error {
  readonly code = 'stream_replicas';

  constructor(stream: string, current: number, wanted: number, reason: string, options?: ErrorOptions) {
    super(
      `stream ${stream} cannot have NATS_STREAM_REPLICAS=${wanted} copies (it has ${current}): ${reason}. ` +
        (wanted > 1
          ? `Run a JetStream cluster of at least ${wanted} servers (every server with -js and the same cluster name), or set NATS_STREAM_REPLICAS=${current}.`
          : `Set NATS_STREAM_REPLICAS=${current}, or change the stream with: nats stream edit ${stream} --replicas ${wanted}.`),
      options,
    );
    this.name = 'StreamReplicasError';
  }
}
