import { eventually } from '@switchboard/testing';
import { Endpoint, newEndpointId } from './endpoint';
import { EndpointChange, EndpointStore, RevisionConflict } from './endpoint-store';

function endpoint(overrides: Partial<Endpoint> = {}): Endpoint {
  const now = new Date().toISOString();
  return {
    id: newEndpointId(),
    url: 'https://hooks.example.com/in',
    description: '',
    events: ['orders.*'],
    format: 'standard',
    disabled: false,
    secrets: [{ secret: 'whsec_' + Buffer.alloc(32, 7).toString('base64') }],
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

/**
 * The EndpointStore contract, run unchanged against every implementation
 * (memory-endpoint.store.spec.ts, kv-endpoint.store.int-spec.ts).
 */
export function endpointStoreConformance(name: string, make: () => Promise<{ store: EndpointStore; dispose(): Promise<void> }>): void {
  describe(`EndpointStore conformance: ${name}`, () => {
    let store: EndpointStore;
    let dispose: () => Promise<void>;

    beforeEach(async () => {
      ({ store, dispose } = await make());
      await store.ensure();
    });
    afterEach(() => dispose());

    it('creates, reads, lists and deletes', async () => {
      const a = endpoint();
      const b = endpoint({ events: ['*'] });
      await store.create(a);
      await store.create(b);
      expect((await store.get(a.id))?.endpoint).toEqual(a);
      expect((await store.list()).map((e) => e.endpoint.id).sort()).toEqual([a.id, b.id].sort());
      expect(await store.delete(a.id)).toBe(true);
      expect(await store.delete(a.id)).toBe(false);
      expect(await store.get(a.id)).toBeUndefined();
      expect((await store.list()).map((e) => e.endpoint.id)).toEqual([b.id]);
    });

    it('refuses a second create of one id and an update from a stale revision', async () => {
      const a = endpoint();
      const r1 = await store.create(a);
      await expect(store.create(a)).rejects.toBeInstanceOf(RevisionConflict);
      const r2 = await store.update({ ...a, description: 'first' }, r1);
      expect(r2).toBeGreaterThan(r1);
      await expect(store.update({ ...a, description: 'stale' }, r1)).rejects.toBeInstanceOf(RevisionConflict);
      expect((await store.get(a.id))?.endpoint.description).toBe('first');
      await store.delete(a.id);
      await expect(store.update({ ...a, description: 'gone' }, r2)).rejects.toBeInstanceOf(RevisionConflict);
    });

    it('watch: what is there, then every later change in order', async () => {
      const a = endpoint();
      await store.create(a);
      const changes: EndpointChange[] = [];
      const watch = await store.watch(
        (c) => changes.push(c),
        () => undefined,
      );
      try {
        expect(watch.initial.map((e) => e.endpoint.id)).toEqual([a.id]);
        const b = endpoint();
        const rb = await store.create(b);
        const rb2 = await store.update({ ...b, disabled: true }, rb);
        await store.delete(a.id);
        await eventually(() =>
          expect(changes.map((c) => (c.kind === 'put' ? ['put', c.endpoint.id, c.endpoint.disabled] : ['delete', c.id]))).toEqual([
            ['put', b.id, false],
            ['put', b.id, true],
            ['delete', a.id],
          ]),
        );
        expect(changes[1].revision).toBe(rb2);
        expect(changes[2].revision).toBeGreaterThan(rb2);
      } finally {
        await watch.stop();
      }
      // Stopped: nothing more arrives.
      await store.create(endpoint());
      await new Promise((r) => setTimeout(r, 50));
      expect(changes).toHaveLength(3);
    });
  });
}
