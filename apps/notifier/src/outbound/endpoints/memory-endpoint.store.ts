import type { Endpoint } from './endpoint';
import { EndpointChange, EndpointStore, EndpointWatch, RevisionConflict, StoredEndpoint } from './endpoint-store';

const copy = (e: Endpoint): Endpoint => structuredClone(e);

/** The registry in one process (the single process without NATS): same contract, no durability. */
export class MemoryEndpointStore implements EndpointStore {
  private readonly entries = new Map<string, StoredEndpoint>();
  private readonly watchers = new Set<(change: EndpointChange) => void>();
  private revision = 0;

  ensure(): Promise<void> {
    return Promise.resolve();
  }

  get(id: string): Promise<StoredEndpoint | undefined> {
    const entry = this.entries.get(id);
    return Promise.resolve(entry === undefined ? undefined : { endpoint: copy(entry.endpoint), revision: entry.revision });
  }

  list(): Promise<StoredEndpoint[]> {
    return Promise.resolve([...this.entries.values()].map((e) => ({ endpoint: copy(e.endpoint), revision: e.revision })));
  }

  create(endpoint: Endpoint): Promise<number> {
    if (this.entries.has(endpoint.id)) return Promise.reject(new RevisionConflict(`endpoint ${endpoint.id} exists`));
    return Promise.resolve(this.put(endpoint));
  }

  update(endpoint: Endpoint, revision: number): Promise<number> {
    const entry = this.entries.get(endpoint.id);
    if (entry === undefined || entry.revision !== revision) {
      return Promise.reject(new RevisionConflict(`endpoint ${endpoint.id} changed since revision ${revision}`));
    }
    return Promise.resolve(this.put(endpoint));
  }

  delete(id: string): Promise<boolean> {
    if (!this.entries.delete(id)) return Promise.resolve(false);
    const change: EndpointChange = { kind: 'delete', id, revision: ++this.revision };
    for (const w of this.watchers) w(change);
    return Promise.resolve(true);
  }

  watch(onChange: (change: EndpointChange) => void): Promise<EndpointWatch> {
    const initial = [...this.entries.values()].map((e) => ({ endpoint: copy(e.endpoint), revision: e.revision }));
    // Changes are delivered asynchronously, like a real watch, but in order.
    let chain = Promise.resolve();
    const listener = (change: EndpointChange): void => {
      chain = chain.then(() => onChange(change));
    };
    this.watchers.add(listener);
    return Promise.resolve({
      initial,
      stop: () => {
        this.watchers.delete(listener);
        return Promise.resolve();
      },
    });
  }

  private put(endpoint: Endpoint): number {
    const revision = ++this.revision;
    this.entries.set(endpoint.id, { endpoint: copy(endpoint), revision });
    const change: EndpointChange = { kind: 'put', endpoint: copy(endpoint), revision };
    for (const w of this.watchers) w(change);
    return revision;
  }
}
