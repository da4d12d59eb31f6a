import { eventually } from '@switchboard/testing';
import { generateWebhookSecret } from '../signing/webhook-secret';
import { Endpoint, newEndpointId } from './endpoint';
import { ActiveEndpoint, EndpointRegistry } from './endpoint-registry';
import { MemoryEndpointStore } from './memory-endpoint.store';

const silent = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

function endpoint(events: string[], overrides: Partial<Endpoint> = {}): Endpoint {
  const now = new Date().toISOString();
  return {
    id: newEndpointId(),
    url: 'https://hooks.example.com/x',
    description: '',
    events,
    format: 'standard',
    disabled: false,
    secrets: [{ secret: generateWebhookSecret() }],
    createdAt: now,
    updatedAt: now,
    ...overrides,
  };
}

describe('EndpointRegistry', () => {
  it('matches types by pattern, and sees changes from the store', async () => {
    const store = new MemoryEndpointStore();
    const a = endpoint(['stripe.*', 'github.push']);
    await store.create(a);
    const registry = new EndpointRegistry(store, silent);
    const seen: Array<[string, boolean]> = [];
    registry.onChange((id, active) => seen.push([id, active !== undefined]));
    await registry.start();
    expect(registry.match('stripe.payment_intent.succeeded').map((e) => e.id)).toEqual([a.id]);
    expect(registry.match('github.push').map((e) => e.id)).toEqual([a.id]);
    expect(registry.match('github.pull_request')).toEqual([]);

    const b = endpoint(['*']);
    await store.create(b);
    await eventually(() => expect(registry.match('github.pull_request').map((e) => e.id)).toEqual([b.id]));
    await registry.mutate(b.id, (e) => ({ ...e, disabled: true }));
    expect(registry.match('github.pull_request')).toEqual([]);
    await store.delete(a.id);
    await eventually(() => expect(registry.get(a.id)).toBeUndefined());
    expect(registry.match('github.push')).toEqual([]);
    expect(seen).toEqual([
      [a.id, true],
      [b.id, true],
      [b.id, true],
      [a.id, false],
    ]);
    await registry.stop();
  });

  it('retries a read-modify-write that lost a race', async () => {
    const store = new MemoryEndpointStore();
    const a = endpoint(['x']);
    const created = await store.create(a);
    const registry = new EndpointRegistry(store, silent);
    await registry.start();
    let raced = false;
    const result = await registry.mutate(a.id, (e) => {
      if (!raced) {
        raced = true;
        // Another replica writes in between: this first try must fail and be redone on the new value.
        void store.update({ ...a, description: 'other' }, created);
      }
      return { ...e, events: ['y'] };
    });
    expect(result?.after).toMatchObject({ description: 'other', events: ['y'] });
    expect(await registry.mutate(newEndpointId(), (e) => e)).toBeUndefined();
    await registry.stop();
  });

  it('signs with the previous secret only until it expires', () => {
    const now = Date.now();
    const e = endpoint(['x'], {
      secrets: [{ secret: generateWebhookSecret() }, { secret: generateWebhookSecret(), expiresAt: new Date(now + 1000).toISOString() }],
    });
    const active = new ActiveEndpoint(e, 1);
    expect(active.signingKeys(now).keys).toHaveLength(2);
    expect(active.signingKeys(now + 1001).keys).toHaveLength(1);
  });
});
