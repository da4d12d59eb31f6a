import { gatewaySchema } from './gateway.config';
import { ConfigError, loadConfig } from './load-config';
import { notifierSchema } from './notifier.config';
import { standaloneSchema } from './standalone.config';
import { webhookIngestSchema } from './webhook-ingest.config';

const SECRET = 'x'.repeat(32);
const JWKS = { JWT_JWKS_URL: 'https://id.example.com/.well-known/jwks.json', JWT_AUDIENCE: 'switchboard' };

describe('gateway auth settings', () => {
  it('accepts an https JWKS URL with an audience', () => {
    expect(loadConfig(gatewaySchema, JWKS)).toMatchObject({ ...JWKS, JWT_JWKS_ALLOW_HTTP: false });
  });

  it('refuses an http JWKS URL, saying why and how to allow it for development', () => {
    const env = { ...JWKS, JWT_JWKS_URL: 'http://id.example.com/jwks.json' };
    expect(() => loadConfig(gatewaySchema, env)).toThrow(ConfigError);
    expect(() => loadConfig(gatewaySchema, env)).toThrow(
      /JWT_JWKS_URL must be an https URL: signing keys fetched over http can be replaced on the way \(set JWT_JWKS_ALLOW_HTTP=true for local development only\)/,
    );
    expect(loadConfig(gatewaySchema, { ...env, JWT_JWKS_ALLOW_HTTP: 'true' }).JWT_JWKS_URL).toBe('http://id.example.com/jwks.json');
  });

  it('requires an audience with a JWKS URL (tokens the provider issued for other apps must not pass)', () => {
    expect(() => loadConfig(gatewaySchema, { JWT_JWKS_URL: JWKS.JWT_JWKS_URL })).toThrow(
      /JWT_AUDIENCE must be set with JWT_JWKS_URL: the identity provider signs tokens for other applications too/,
    );
    // An HS256 secret is this deployment's own: no audience needed.
    expect(() => loadConfig(gatewaySchema, { JWT_SECRET: SECRET })).not.toThrow();
  });

  it('applies the same rules in the single process', () => {
    expect(() => loadConfig(standaloneSchema, { JWT_JWKS_URL: 'http://localhost:9000/jwks' })).toThrow(
      /JWT_JWKS_URL must be an https URL.*; JWT_AUDIENCE must be set with JWT_JWKS_URL/,
    );
  });
});

describe('TURN and inspector defaults', () => {
  it('issues TURN credentials for an hour at most by default', () => {
    expect(loadConfig(gatewaySchema, { JWT_SECRET: SECRET }).TURN_TTL_SECONDS).toBe(3600);
  });

  it('serves the inspector in the single process but not in the gateway service, unless asked', () => {
    expect(loadConfig(gatewaySchema, { JWT_SECRET: SECRET }).INSPECTOR_ENABLED).toBe(false);
    expect(loadConfig(gatewaySchema, { JWT_SECRET: SECRET, INSPECTOR_ENABLED: 'true' }).INSPECTOR_ENABLED).toBe(true);
    expect(loadConfig(standaloneSchema, { JWT_SECRET: SECRET }).INSPECTOR_ENABLED).toBe(true);
    expect(loadConfig(standaloneSchema, { JWT_SECRET: SECRET, INSPECTOR_ENABLED: 'false' }).INSPECTOR_ENABLED).toBe(false);
  });

  it("serves the console with the inspector's defaults: off in the gateway service, on in the single process", () => {
    expect(loadConfig(gatewaySchema, { JWT_SECRET: SECRET }).CONSOLE_ENABLED).toBe(false);
    expect(loadConfig(gatewaySchema, { JWT_SECRET: SECRET, CONSOLE_ENABLED: 'true' }).CONSOLE_ENABLED).toBe(true);
    expect(loadConfig(standaloneSchema, { JWT_SECRET: SECRET }).CONSOLE_ENABLED).toBe(true);
    expect(loadConfig(standaloneSchema, { JWT_SECRET: SECRET, CONSOLE_ENABLED: 'false' }).CONSOLE_ENABLED).toBe(false);
  });
});

describe('METRICS_PORT', () => {
  it.each([
    ['gateway', gatewaySchema, { JWT_SECRET: SECRET }],
    ['webhook-ingest', webhookIngestSchema, {}],
    ['notifier', notifierSchema, {}],
    ['single process', standaloneSchema, { JWT_SECRET: SECRET }],
  ])('is unset by default, a port when set, and never the main port (%s)', (_name, schema, base) => {
    expect(loadConfig(schema, base).METRICS_PORT).toBeUndefined();
    expect(loadConfig(schema, { ...base, METRICS_PORT: '9090' }).METRICS_PORT).toBe(9090);
    expect(() => loadConfig(schema, { ...base, METRICS_PORT: '8080' })).toThrow(/METRICS_PORT must differ from PORT/);
    expect(() => loadConfig(schema, { ...base, METRICS_PORT: 'metrics' })).toThrow(/METRICS_PORT must be an integer between 0 and 65535/);
  });
});
