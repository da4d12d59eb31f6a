import { loadConfig } from './load-config';
import { adminApiKey, notifierSchema } from './notifier.config';
import { standaloneSchema } from './standalone.config';

describe('outbound webhook settings', () => {
  it('has the documented defaults, in the notifier and the single process alike', () => {
    for (const schema of [notifierSchema, standaloneSchema]) {
      expect(loadConfig(schema, { JWT_SECRET: 'x'.repeat(32) })).toMatchObject({
        OUTBOUND_ENABLED: true,
        OUTBOUND_DURABLE: 'outbound',
        OUTBOUND_STREAM: 'OUTBOUND',
        OUTBOUND_SUBJECT_PREFIX: 'outbound',
        OUTBOUND_DLQ_STREAM: 'OUTBOUND_DLQ',
        OUTBOUND_DLQ_SUBJECT_PREFIX: 'dlq.outbound',
        OUTBOUND_ENDPOINTS_BUCKET: 'switchboard_endpoints',
        OUTBOUND_TIMEOUT_SECONDS: 15,
        OUTBOUND_RETRY_SCHEDULE: [5, 300, 1800, 7200, 18000, 36000, 36000],
        OUTBOUND_CONCURRENCY: 10,
        OUTBOUND_DISABLE_AFTER_HOURS: 120,
        OUTBOUND_ALLOW_HTTP: false,
        OUTBOUND_ALLOW_CIDRS: [],
      });
    }
  });

  it('reads a compressed schedule and allow-listed CIDRs', () => {
    const c = loadConfig(notifierSchema, { OUTBOUND_RETRY_SCHEDULE: '0.2, 0.4,1', OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32, ::1' });
    expect(c.OUTBOUND_RETRY_SCHEDULE).toEqual([0.2, 0.4, 1]);
    expect(c.OUTBOUND_ALLOW_CIDRS).toEqual(['127.0.0.1/32', '::1']);
  });

  it('refuses bad values with one line naming the variable', () => {
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ OUTBOUND_RETRY_SCHEDULE: '5,abc' }, /OUTBOUND_RETRY_SCHEDULE must be 1–50 comma-separated delays/],
      [{ OUTBOUND_RETRY_SCHEDULE: '5,0' }, /OUTBOUND_RETRY_SCHEDULE must be/],
      [{ OUTBOUND_ALLOW_CIDRS: '10.0.0.0/33' }, /OUTBOUND_ALLOW_CIDRS must be IPv4\/IPv6 addresses or CIDRs \(bad: 10\.0\.0\.0\/33\)/],
      [{ OUTBOUND_SUBJECT_PREFIX: 'events.out' }, /OUTBOUND_SUBJECT_PREFIX must not overlap EVENTS_SUBJECT_PREFIX/],
      [{ OUTBOUND_DLQ_SUBJECT_PREFIX: 'dlq.events.x' }, /OUTBOUND_DLQ_SUBJECT_PREFIX must not overlap DLQ_SUBJECT_PREFIX/],
      [{ OUTBOUND_STREAM: 'EVENTS' }, /OUTBOUND_STREAM must differ from EVENTS_STREAM/],
      [{ OUTBOUND_ENDPOINTS_BUCKET: 'a.b' }, /OUTBOUND_ENDPOINTS_BUCKET must be 1–64 characters/],
      [{ OUTBOUND_TIMEOUT_SECONDS: '0' }, /OUTBOUND_TIMEOUT_SECONDS must be ≥ 0.1/],
      [{ ADMIN_API_KEY: 'a', DLQ_API_KEY: 'b' }, /DLQ_API_KEY is the former name of ADMIN_API_KEY/],
    ];
    for (const [env, message] of cases) expect(() => loadConfig(notifierSchema, env)).toThrow(message);
  });

  it('takes ADMIN_API_KEY, or the former DLQ_API_KEY, never PUBLISH_API_KEY', () => {
    expect(adminApiKey(loadConfig(notifierSchema, { ADMIN_API_KEY: 'a', PUBLISH_API_KEY: 'p' }))).toBe('a');
    expect(adminApiKey(loadConfig(notifierSchema, { DLQ_API_KEY: 'd', PUBLISH_API_KEY: 'p' }))).toBe('d');
    expect(adminApiKey(loadConfig(notifierSchema, { PUBLISH_API_KEY: 'p' }))).toBeUndefined();
  });
});
