import type { Endpoint } from './endpoint';

/** An endpoint with the store's revision of it (for compare-and-set updates). */
export interface StoredEndpoint {
  endpoint: Endpoint;
  revision: number;
}

/** One change of the registry, in the store's order. */
export type EndpointChange = { kind: 'put'; endpoint: Endpoint; revision: number } | { kind: 'delete'; id: string; revision: number };

/** A live view of the registry: what was there at the start, then every change. */
export interface EndpointWatch {
  readonly initial: StoredEndpoint[];
  stop(): Promise<void>;
}

/** Update refused because the endpoint changed (or went) since `revision` was read. */
export class RevisionConflict extends Error {
  override readonly name = 'RevisionConflict';
}

/**
 * Durable storage of the endpoint registry, shared by every notifier replica.
 * Implementations: JetStream KV (`kv-endpoint.store.ts`) and memory (the single process
 * without NATS). `endpoint-store.conformance.ts` holds both to this contract.
 */
export interface EndpointStore {
  /** Creates the backing bucket when missing (idempotent; run at startup). */
  ensure(): Promise<void>;
  get(id: string): Promise<StoredEndpoint | undefined>;
  list(): Promise<StoredEndpoint[]>;
  /** Stores a new endpoint; throws RevisionConflict when the id is taken. Resolves with its revision. */
  create(endpoint: Endpoint): Promise<number>;
  /** Replaces the endpoint if it is still at `revision`; throws RevisionConflict otherwise. */
  update(endpoint: Endpoint, revision: number): Promise<number>;
  /** Removes it; false when there was none. */
  delete(id: string): Promise<boolean>;
  /**
   * Every endpoint now (`initial`), then each later change, in order, to `onChange`. No
   * change between the two is lost; one may be seen in both (revisions tell). If the
   * watch breaks (the connection went for good), `onBroken` is called and the caller
   * watches again.
   */
  watch(onChange: (change: EndpointChange) => void, onBroken: (err: unknown) => void): Promise<EndpointWatch>;
}
