import { candidateEpoch, newEpoch } from './epoch';

describe('epochs', () => {
  it('newEpoch is 6 random bytes, base64url', () => {
    expect(newEpoch()).toMatch(/^[A-Za-z0-9_-]{8}$/);
    expect(newEpoch()).not.toBe(newEpoch());
  });

  it('candidateEpoch has the same shape and never repeats across random draws', () => {
    const seen = new Set<string>();
    // Three draws of 512 candidates and a part of a fourth.
    for (let i = 0; i < 1700; i++) {
      const epoch = candidateEpoch();
      expect(epoch).toMatch(/^[A-Za-z0-9_-]{8}$/);
      seen.add(epoch);
    }
    expect(seen.size).toBe(1700);
  });
});
