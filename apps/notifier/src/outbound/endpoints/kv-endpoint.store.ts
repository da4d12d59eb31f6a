import { JetStreamApiError, jetstreamManager, StorageType } from '@nats-io/jetstream';
import { KV, KvEntry, KvWatchInclude, Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/nats-core';
import { applyStreamReplicas, EngineLogger, noopLogger, retryJetStreamSetup } from '@switchboard/engine';
import type { Endpoint } from './endpoint';
import { EndpointChange, EndpointStore, EndpointWatch, RevisionConflict, StoredEndpoint } from './endpoint-store';

export interface KvEndpointStoreOptions {
  /** OUTBOUND_ENDPOINTS_BUCKET */
  bucket: string;
  /** NATS_STREAM_REPLICAS */
  replicas: number;
  /** How long `ensure` retries while JetStream is unavailable (STARTUP_TIMEOUT_SECONDS); 0: once. */
  setupTimeoutMs?: number;
  logger?: EngineLogger;
}

/** JetStream's "wrong last sequence": the key changed since the revision given. */
const WRONG_LAST_SEQUENCE = 10071;

function decode(entry: KvEntry): StoredEndpoint | undefined {
  if (entry.operation !== 'PUT') return undefined;
  return { endpoint: entry.json<Endpoint>(), revision: entry.revision };
}

/**
 * The registry in a JetStream KV bucket (one key per endpoint id, history 1, file storage,
 * NATS_STREAM_REPLICAS): durable, shared by every replica, and watched so that each replica
 * keeps an in-memory copy current without polling.
 */
export class KvEndpointStore implements EndpointStore {
  private kv?: KV;

  constructor(
    private readonly nc: NatsConnection,
    private readonly options: KvEndpointStoreOptions,
  ) {}

  async ensure(): Promise<void> {
    const { setupTimeoutMs = 0, logger = noopLogger } = this.options;
    await retryJetStreamSetup(`bucket ${this.options.bucket}`, () => this.ensureBucket(), setupTimeoutMs, logger);
  }

  private async ensureBucket(): Promise<void> {
    this.kv = await new Kvm(this.nc).create(this.options.bucket, {
      history: 1,
      replicas: this.options.replicas,
      storage: StorageType.File,
      description: 'Switchboard outbound webhook endpoints',
    });
    // An existing bucket keeps its replicas through create(): bring them to NATS_STREAM_REPLICAS.
    await applyStreamReplicas(await jetstreamManager(this.nc), `KV_${this.options.bucket}`, this.options.replicas);
  }

  async get(id: string): Promise<StoredEndpoint | undefined> {
    const entry = await this.bucket().get(id);
    return entry === null ? undefined : decode(entry);
  }

  async list(): Promise<StoredEndpoint[]> {
    const keys: string[] = [];
    for await (const key of await this.bucket().keys()) keys.push(key);
    const entries = await Promise.all(keys.map((k) => this.get(k)));
    return entries.filter((e): e is StoredEndpoint => e !== undefined);
  }

  async create(endpoint: Endpoint): Promise<number> {
    try {
      return await this.bucket().create(endpoint.id, JSON.stringify(endpoint));
    } catch (err) {
      if (isConflict(err)) throw new RevisionConflict(`endpoint ${endpoint.id} exists`);
      throw err;
    }
  }

  async update(endpoint: Endpoint, revision: number): Promise<number> {
    try {
      return await this.bucket().update(endpoint.id, JSON.stringify(endpoint), revision);
    } catch (err) {
      if (isConflict(err)) throw new RevisionConflict(`endpoint ${endpoint.id} changed since revision ${revision}`);
      throw err;
    }
  }

  async delete(id: string): Promise<boolean> {
    const entry = await this.bucket().get(id);
    if (entry === null || entry.operation !== 'PUT') return false;
    // Purge, not delete: the bucket keeps no body of a removed endpoint (its secrets).
    await this.bucket().purge(id);
    return true;
  }

  async watch(onChange: (change: EndpointChange) => void, onBroken: (err: unknown) => void): Promise<EndpointWatch> {
    const kv = this.bucket();
    // Watch first (new changes only), then list: a change made meanwhile shows in both, never in neither.
    const watcher = await kv.watch({ include: KvWatchInclude.UpdatesOnly });
    let stopped = false;
    const pump = (async () => {
      for await (const entry of watcher) {
        const stored = decode(entry);
        onChange(
          stored === undefined
            ? { kind: 'delete', id: entry.key, revision: entry.revision }
            : { kind: 'put', endpoint: stored.endpoint, revision: stored.revision },
        );
      }
    })();
    pump.then(
      () => {
        if (!stopped) onBroken(new Error('endpoint watch ended'));
      },
      (err: unknown) => {
        if (!stopped) onBroken(err);
      },
    );
    let initial: StoredEndpoint[];
    try {
      initial = await this.list();
    } catch (err) {
      stopped = true;
      watcher.stop();
      throw err;
    }
    return {
      initial,
      stop: async () => {
        stopped = true;
        watcher.stop();
        await pump.catch(() => undefined);
      },
    };
  }

  private bucket(): KV {
    if (this.kv === undefined) throw new Error('KvEndpointStore.ensure() first');
    return this.kv;
  }
}

function isConflict(err: unknown): boolean {
  if (err instanceof JetStreamApiError && err.code === WRONG_LAST_SEQUENCE) return true;
  return err instanceof Error && /wrong last sequence/i.test(err.message);
}
