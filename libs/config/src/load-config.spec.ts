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

  describe('Redis Cluster and Sentinel', () => {
    const nats = { JWT_SECRET: SECRET, NATS_URL: 'nats://a:4222,nats://b:4222,nats://c:4222' };

    it('takes cluster nodes as host:port and the one Redis target from them', () => {
      const c = loadConfig(gatewaySchema, { ...nats, REDIS_CLUSTER_NODES: ' r1:7000, r2:7001,[::1]:7002 ', NATS_STREAM_REPLICAS: '3' });
      expect(c.REDIS_CLUSTER_NODES).toEqual(['r1:7000', 'r2:7001', '[::1]:7002']);
      expect(c.REDIS_URL).toBeUndefined();
      expect(c.NATS_STREAM_REPLICAS).toBe(3);
    });

    it('takes sentinels with the master name', () => {
      const c = loadConfig(gatewaySchema, {
        ...nats,
        REDIS_SENTINELS: 's1:26379,s2:26379',
        REDIS_SENTINEL_NAME: 'sb',
        REDIS_PASSWORD: 'pw',
      });
      expect(c).toMatchObject({ REDIS_SENTINELS: ['s1:26379', 's2:26379'], REDIS_SENTINEL_NAME: 'sb', REDIS_PASSWORD: 'pw' });
    });

    it('names the variable and what is allowed', () => {
      expect(() => loadConfig(gatewaySchema, { ...nats, REDIS_CLUSTER_NODES: 'r1:7000,redis://r2:7001' })).toThrow(
        /REDIS_CLUSTER_NODES must be comma-separated host:port entries \(bad: redis:\/\/r2:7001\)/,
      );
      expect(() => loadConfig(gatewaySchema, { ...nats, REDIS_SENTINELS: 's1:99999', REDIS_SENTINEL_NAME: 'sb' })).toThrow(
        /REDIS_SENTINELS must be comma-separated host:port entries \(bad: s1:99999\)/,
      );
      expect(() => loadConfig(gatewaySchema, { ...nats, REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'r1:7000' })).toThrow(
        /REDIS_CLUSTER_NODES must not be set together with REDIS_URL: set one of REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS/,
      );
      expect(() => loadConfig(gatewaySchema, { ...nats, REDIS_SENTINELS: 's1:26379' })).toThrow(
        /REDIS_SENTINEL_NAME must be set with REDIS_SENTINELS/,
      );
      expect(() => loadConfig(gatewaySchema, { ...nats, REDIS_URL: 'redis://r:6379', REDIS_SENTINEL_NAME: 'sb' })).toThrow(
        /REDIS_SENTINEL_NAME is only used with REDIS_SENTINELS/,
      );
      expect(() => loadConfig(gatewaySchema, { JWT_SECRET: SECRET, REDIS_CLUSTER_NODES: 'r1:7000' })).toThrow(
        /NATS_URL must be set together with REDIS_URL, REDIS_CLUSTER_NODES or REDIS_SENTINELS/,
      );
      expect(() => loadConfig(gatewaySchema, { ...nats, REDIS_CLUSTER_NODES: 'r1:7000', REDIS_KEY_PREFIX: 'sb{x}:' })).toThrow(
        /REDIS_KEY_PREFIX must not contain { or }/,
      );
      expect(() =>
        loadConfig(gatewaySchema, { ...nats, REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'sb', REDIS_PASSWORD: '' }),
      ).not.toThrow();
    });

    it('never echoes REDIS_PASSWORD', () => {
      let message = '';
      try {
        loadConfig(gatewaySchema, { ...nats, REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'hunter2' });
      } catch (err) {
        message = (err as Error).message;
      }
      expect(message).toMatch(/REDIS_PASSWORD is for REDIS_CLUSTER_NODES/);
      expect(message).not.toContain('hunter2');
    });
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

  it("lists the allowed values of LOG_LEVEL in words, not zod's", () => {
    expect(() => loadConfig(commonSchema, { LOG_LEVEL: 'verbose' })).toThrow(
      new ConfigError('invalid configuration: LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent (got "verbose")'),
    );
    expect(loadConfig(commonSchema, { LOG_LEVEL: 'DEBUG' }).LOG_LEVEL).toBe('debug');
  });

  it('refuses ALLOWED_ORIGINS entries that are not origins, naming them', () => {
    const problem = (value: string): string => {
      try {
        loadConfig(gatewaySchema, { JWT_SECRET: SECRET, ALLOWED_ORIGINS: value });
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    expect(problem('notaurl')).toBe(
      'invalid configuration: ALLOWED_ORIGINS must list origins as scheme://host[:port] (http or https, no path), ' +
        'e.g. https://app.example.com, or * for any; not an origin: "notaurl" (got "notaurl")',
    );
    for (const bad of [
      'https://app.example.com/',
      'https://app.example.com/path',
      'ftp://x.example',
      'app.example.com',
      'https://u:p@x.example',
      'https://',
    ]) {
      expect(problem(`https://ok.example, ${bad}`)).toContain(`not an origin: ${JSON.stringify(bad)}`);
    }
    // Stored as browsers send them in Origin: lower-case host, no default port.
    expect(
      loadConfig(gatewaySchema, { JWT_SECRET: SECRET, ALLOWED_ORIGINS: 'https://App.Example.com:443, http://localhost:3000,*' })
        .ALLOWED_ORIGINS,
    ).toEqual(['https://app.example.com', 'http://localhost:3000', '*']);
    expect(loadConfig(gatewaySchema, { JWT_SECRET: SECRET }).ALLOWED_ORIGINS).toEqual([]);
  });

  it('refuses STUN_URLS and TURN_URLS entries a browser would refuse, naming them', () => {
    const load = (env: Record<string, string>) => loadConfig(gatewaySchema, { JWT_SECRET: SECRET, ...env });
    const problem = (env: Record<string, string>): string => {
      try {
        load(env);
      } catch (err) {
        return (err as Error).message;
      }
      return 'accepted';
    };
    for (const bad of ['stun.example.org:3478', 'turn:turn.example.org', 'stun:', 'stun:host:0', 'stun:host:70000', 'stun://host']) {
      expect(problem({ STUN_URLS: `stun:ok.example:3478,${bad}` })).toContain(
        `STUN_URLS must list URLs as stun:host[:port] or stuns:host[:port]; not such a URL: ${JSON.stringify(bad)}`,
      );
    }
    for (const bad of ['turn:host?transport=sctp', 'stun:host', 'turn:host:3478/path', 'turn:host:3478?transport=udp&x=1', 'http://host']) {
      expect(problem({ TURN_URLS: `turn:ok.example:3478,${bad}` })).toContain(`TURN_URLS must list URLs as turn:host[:port]`);
      expect(problem({ TURN_URLS: bad })).toContain(`not such a URL: ${JSON.stringify(bad)}`);
    }
    const good = load({
      STUN_URLS: 'stun:stun.example.org:3478, stuns:10.0.0.1, stun:[2001:db8::1]:3478',
      TURN_URLS:
        'turn:turn.example.org:3478?transport=udp,turn:turn.example.org:3478?transport=tcp,turns:turn.example.org:5349?transport=tcp,turn:[::1]',
    });
    expect(good.STUN_URLS).toEqual(['stun:stun.example.org:3478', 'stuns:10.0.0.1', 'stun:[2001:db8::1]:3478']);
    expect(good.TURN_URLS).toHaveLength(4);
    expect(load({}).TURN_URLS).toEqual([]);
  });

  it('masks the password of a URL it echoes', () => {
    let message = '';
    try {
      loadConfig(gatewaySchema, { JWT_SECRET: SECRET, NATS_URL: 'nats://n:4222', REDIS_URL: 'http://user:hunter2@redis:6379' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toBe('invalid configuration: REDIS_URL must be a redis or rediss URL (got "http://user:***@redis:6379")');
  });

  it('treats empty values as unset', () => {
    expect(loadConfig(commonSchema, { PORT: '', LOG_LEVEL: '' })).toMatchObject({ PORT: 8080, LOG_LEVEL: 'info' });
  });
});
