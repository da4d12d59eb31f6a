import { ConfigError, loadConfig } from './load-config';
import { gatewaySchema } from './gateway.config';
import { commonSchema } from './common.config';

const SECRET = 'x'.repeat(32);

describe('loadConfig', () => {
  it('applies documented defaults', () => {
    const c = loadConfig(commonSchema, {});
    expect(c).toMatchObject({
      PORT: 8080,
      HISTORY_SIZE: 100,
      HISTORY_TTL_SECONDS: 300,
      CHANNEL_META_TTL_SECONDS: 2592000,
      IDEMPOTENCY_WINDOW_SECONDS: 120,
    });
    expect(c.NATS_URL).toBeUndefined();
  });

  it('names the variable and the value in one line', () => {
    expect(() => loadConfig(commonSchema, { HISTORY_SIZE: 'abc' })).toThrow(
      new ConfigError('invalid configuration: HISTORY_SIZE must be an integer between 1 and 100000 (got "abc")'),
    );
    expect(() => loadConfig(commonSchema, { PORT: '70000' })).toThrow(/PORT must be ≤ 65535 \(got "70000"\)/);
  });

  it('never echoes secrets', () => {
    let message = '';
    try {
      loadConfig(gatewaySchema, { JWT_SECRET: 'short-secret' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/JWT_SECRET must be at least 32 bytes/);
    expect(message).not.toContain('short-secret');
  });

  it('requires NATS_URL and REDIS_URL together', () => {
    expect(() => loadConfig(gatewaySchema, { JWT_SECRET: SECRET, NATS_URL: 'nats://127.0.0.1:4222' })).toThrow(
      /REDIS_URL must be set together with NATS_URL/,
    );
    expect(() => loadConfig(gatewaySchema, { JWT_SECRET: SECRET, NATS_URL: 'http://x', REDIS_URL: 'redis://x' })).toThrow(
      /NATS_URL must be a nats/,
    );
    const ok = loadConfig(gatewaySchema, { JWT_SECRET: SECRET, NATS_URL: 'nats://a:4222,nats://b:4222', REDIS_URL: 'redis://r:6379' });
    expect(ok.NATS_URL).toBe('nats://a:4222,nats://b:4222');
  });

  it('refuses overlapping event and dead-letter subjects', () => {
    expect(() =>
      loadConfig(
        commonSchema.superRefine(() => undefined),
        {},
      ),
    ).not.toThrow();
    expect(() => loadConfig(gatewaySchema, { JWT_SECRET: SECRET, DLQ_SUBJECT_PREFIX: 'events.dlq' })).toThrow(
      /DLQ_SUBJECT_PREFIX must not overlap/,
    );
  });

  it('treats empty values as unset', () => {
    expect(loadConfig(commonSchema, { PORT: '', LOG_LEVEL: '' })).toMatchObject({ PORT: 8080, LOG_LEVEL: 'info' });
  });
});
