import { turnTtlSeconds } from './ice-servers.controller';

describe('turnTtlSeconds', () => {
  const now = 1_800_000_000_500;

  it('is TURN_TTL_SECONDS for a token without exp or one that outlives it', () => {
    expect(turnTtlSeconds({}, 3600, now)).toBe(3600);
    expect(turnTtlSeconds({ expiresAt: now + 7200_000 }, 3600, now)).toBe(3600);
  });

  it('ends no later than the token: whole seconds left before exp', () => {
    expect(turnTtlSeconds({ expiresAt: now + 120_000 }, 3600, now)).toBe(120);
    expect(turnTtlSeconds({ expiresAt: now + 1_999 }, 3600, now)).toBe(1);
  });

  it('is 0 for a token at or past exp', () => {
    expect(turnTtlSeconds({ expiresAt: now + 999 }, 3600, now)).toBe(0);
    expect(turnTtlSeconds({ expiresAt: now - 3000 }, 3600, now)).toBe(0);
  });
});
