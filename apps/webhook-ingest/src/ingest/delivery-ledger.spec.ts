import { MemoryDeliveryLedger } from './delivery-ledger';

describe('MemoryDeliveryLedger', () => {
  it('remembers stored deliveries per source for the window', async () => {
    let now = 0;
    const ledger = new MemoryDeliveryLedger(60, () => now);
    await ledger.markStored('a', 'd1');
    expect(await ledger.isStored('a', 'd1')).toBe(true);
    expect(await ledger.isStored('b', 'd1')).toBe(false);
    now += 59_999;
    expect(await ledger.isStored('a', 'd1')).toBe(true);
    now += 1;
    expect(await ledger.isStored('a', 'd1')).toBe(false);
  });

  it('tells a replayed signature (another delivery id) from a retry (the same one)', async () => {
    const ledger = new MemoryDeliveryLedger(60);
    expect(await ledger.claimSignature('a', 'sig', 'd1')).toBe(true);
    expect(await ledger.claimSignature('a', 'sig', 'd1')).toBe(true);
    expect(await ledger.claimSignature('a', 'sig', 'd2')).toBe(false);
    expect(await ledger.claimSignature('b', 'sig', 'd2')).toBe(true);
  });

  it('is bounded per source: the oldest entries go first', async () => {
    const ledger = new MemoryDeliveryLedger(60, Date.now, 3);
    for (const id of ['1', '2', '3', '4']) await ledger.markStored('a', id);
    await ledger.markStored('b', 'x');
    expect(await Promise.all(['1', '2', '3', '4'].map((id) => ledger.isStored('a', id)))).toEqual([false, true, true, true]);
    expect(await ledger.isStored('b', 'x')).toBe(true);
  });
});
