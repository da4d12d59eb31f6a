import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from './load-config';
import { loadWebhookSources, webhookIngestSchema } from './webhook-ingest.config';
import { parseCidr } from './webhook-sources.schema';

const dir = mkdtempSync(join(tmpdir(), 'sb-webhook-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problem(env: Record<string, string>): string {
  try {
    loadConfig(webhookIngestSchema, env);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

describe('webhook sources', () => {
  it('starts with no sources at all', () => {
    expect(loadWebhookSources({})).toEqual([]);
    expect(loadConfig(webhookIngestSchema, {}).WEBHOOK_MAX_BYTES).toBe(1_048_576);
  });

  it("parses SPEC's WEBHOOK_SOURCES example and applies the defaults", () => {
    const sources = loadWebhookSources({
      WEBHOOK_SOURCES:
        '[{"name":"stripe-main","provider":"stripe","secrets":["whsec_abc"]},{"name":"gh","provider":"github","secrets":["s3cret"]}]',
    });
    expect(sources).toEqual([
      { name: 'stripe-main', provider: 'stripe', secrets: ['whsec_abc'], toleranceSeconds: 300, rateLimit: { perSecond: 100, burst: 200 } },
      { name: 'gh', provider: 'github', secrets: ['s3cret'], toleranceSeconds: 300, rateLimit: { perSecond: 100, burst: 200 } },
    ]);
  });

  it('reads a YAML file (sources: or a bare list) and merges it with WEBHOOK_SOURCES', () => {
    const yaml = file(
      'sources.yaml',
      [
        'sources:',
        '  - name: billing',
        '    provider: hmac',
        '    secrets: [one, two]',
        '    header: X-Signature',
        '    prefix: "sha256="',
        '    allowCidrs: ["192.0.2.0/24", "2001:db8::/32"]',
        '    rateLimit: false',
        '  - name: sms',
        '    provider: twilio',
        '    secrets: [token]',
        '    publicUrl: https://hooks.example.com/v1/webhooks/sms',
      ].join('\n'),
    );
    const sources = loadWebhookSources({ WEBHOOK_CONFIG: yaml, WEBHOOK_SOURCES: '[{"name":"shop","provider":"shopify","secrets":["x"]}]' });
    expect(sources.map((s) => s.name)).toEqual(['billing', 'sms', 'shop']);
    expect(sources[0]).toMatchObject({ header: 'x-signature', algorithm: 'sha256', encoding: 'hex', prefix: 'sha256=', rateLimit: false });
    expect(sources[1]).toMatchObject({ eventType: 'request' });
    const bare = file('bare.json', '[{"name":"std","provider":"standard","secrets":["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"]}]');
    expect(loadWebhookSources({ WEBHOOK_CONFIG: bare })).toHaveLength(1);
    expect(loadWebhookSources({ WEBHOOK_CONFIG: file('empty.yaml', '') })).toEqual([]);
  });

  it('refuses bad sources with one line naming the variable, never echoing a secret', () => {
    const secret = 'sk_live_do_not_echo_me';
    const message = problem({ WEBHOOK_SOURCES: `[{"name":"s","provider":"stripe","secrets":["${secret}"]}]` });
    expect(message).toBe('invalid configuration: WEBHOOK_SOURCES source "s": [0].secrets[0]: must be an endpoint signing secret (whsec_…)');
    expect(problem({ WEBHOOK_SOURCES: `[{"name":"s","provider":"stripe","secrets":["${secret}"` })).toBe(
      'invalid configuration: WEBHOOK_SOURCES is not valid JSON',
    );
    expect(problem({ WEBHOOK_SOURCES: `[{"name":"s","provider":"paypal","secrets":["${secret}"]}]` })).toMatch(
      /WEBHOOK_SOURCES source "s": \[0\]\.provider: must be one of stripe, github/,
    );
    expect(problem({ WEBHOOK_SOURCES: `[{"name":"a b","provider":"github","secret":"${secret}"}]` })).toMatch(
      /\[0\]\.secret: is not a known key; did you mean \[0\]\.secrets\?; \[0\]\.name: must be 1–64 characters/,
    );
    for (const m of [message]) expect(m).not.toContain(secret);
    expect(problem({ WEBHOOK_SOURCES: '{"name":"x"}' })).toMatch(/WEBHOOK_SOURCES must be a JSON list of sources/);
  });

  it('refuses duplicate names, bad CIDRs, bad Standard Webhooks secrets and unreadable files', () => {
    expect(
      problem({
        WEBHOOK_CONFIG: file('one.yaml', 'sources: [{name: gh, provider: github, secrets: [a]}]'),
        WEBHOOK_SOURCES: '[{"name":"gh","provider":"github","secrets":["b"]}]',
      }),
    ).toMatch(/WEBHOOK_SOURCES source "gh" is defined twice \(first in WEBHOOK_CONFIG\)/);
    expect(problem({ WEBHOOK_SOURCES: '[{"name":"gh","provider":"github","secrets":["a"],"allowCidrs":["10.0.0.0/33"]}]' })).toMatch(
      /\[0\]\.allowCidrs\[0\]: must be an IPv4\/IPv6 address or CIDR/,
    );
    expect(problem({ WEBHOOK_SOURCES: '[{"name":"std","provider":"standard","secrets":["whsec_not base64!"]}]' })).toMatch(
      /\[0\]\.secrets\[0\]: must be whsec_ followed by base64 key bytes/,
    );
    expect(problem({ WEBHOOK_CONFIG: join(dir, 'missing.yaml') })).toMatch(/WEBHOOK_CONFIG \S*missing.yaml: cannot read it \(ENOENT\)$/);
    expect(problem({ WEBHOOK_CONFIG: file('top.yaml', 'routes: []') })).toMatch(
      /WEBHOOK_CONFIG \S*top.yaml: routes: is not a known key \(the file holds "sources:" only\)$/,
    );
    expect(problem({ WEBHOOK_CONFIG: file('list.yaml', 'sources: {}') })).toMatch(/WEBHOOK_CONFIG \S*list.yaml: must hold "sources:"/);
    expect(problem({ TRUSTED_PROXIES: '10.0.0.0/8, nope' })).toMatch(/TRUSTED_PROXIES must be IPv4\/IPv6 addresses or CIDRs \(bad: nope\)/);
  });

  it('names the file and where a misspelt key should be, never the values', () => {
    const path = file(
      'typo.yaml',
      [
        'sources:',
        '  - name: billing',
        '    provider: hmac',
        '    secret: [do-not-echo]',
        '    header: X-Signature',
        '    algoritm: sha512',
      ].join('\n'),
    );
    const message = problem({ WEBHOOK_CONFIG: path });
    expect(message).toBe(
      `invalid configuration: WEBHOOK_CONFIG ${path}: source "billing": ` +
        'sources[0].secret: is not a known key; did you mean sources[0].secrets?; ' +
        'sources[0].algoritm: is not a known key; did you mean sources[0].algorithm?',
    );
    expect(message).not.toContain('do-not-echo');
    // The suggestion is among the keys of the source's own provider.
    expect(problem({ WEBHOOK_SOURCES: '[{"name":"t","provider":"twilio","secrets":["x"],"publicURL":"https://x"}]' })).toMatch(
      /\[0\]\.publicURL: is not a known key; did you mean \[0\]\.publicUrl\?$/,
    );
    expect(problem({ WEBHOOK_CONFIG: file('top-typo.yaml', 'souces: []') })).toMatch(
      /top-typo.yaml: souces: is not a known key; did you mean sources\?$/,
    );
    expect(
      problem({ WEBHOOK_CONFIG: file('rate.yaml', 'sources: [{name: a, provider: github, secrets: [x], rateLimit: {persecond: 5}}]') }),
    ).toMatch(/sources\[0\]\.rateLimit\.persecond: is not a known key; did you mean sources\[0\]\.rateLimit\.perSecond\?$/);
    expect(
      problem({ WEBHOOK_CONFIG: file('enum.yaml', 'sources: [{name: a, provider: hmac, secrets: [x], header: X-S, encoding: hexa}]') }),
    ).toMatch(/sources\[0\]\.encoding: must be one of hex, base64$/);
  });

  it('parses CIDRs and bare addresses', () => {
    expect(parseCidr('10.0.0.0/8')).toEqual({ address: '10.0.0.0', prefix: 8, family: 'ipv4' });
    expect(parseCidr('::1')).toEqual({ address: '::1', prefix: 128, family: 'ipv6' });
    for (const bad of ['10.0.0.0/', '10.0.0.0/8/1', '1.2.3/8', 'fe80::/129', 'x']) expect(parseCidr(bad)).toBeUndefined();
  });

  it('reads the unverified-traffic limits with their defaults, and refuses bad values by name', () => {
    expect(loadConfig(webhookIngestSchema, {})).toMatchObject({
      WEBHOOK_UNVERIFIED_RATE: 10,
      WEBHOOK_BODY_TIMEOUT_SECONDS: 10,
      WEBHOOK_MAX_CONCURRENT_READS: 256,
    });
    expect(
      loadConfig(webhookIngestSchema, {
        WEBHOOK_UNVERIFIED_RATE: '0.5',
        WEBHOOK_BODY_TIMEOUT_SECONDS: '3',
        WEBHOOK_MAX_CONCURRENT_READS: '32',
      }),
    ).toMatchObject({ WEBHOOK_UNVERIFIED_RATE: 0.5, WEBHOOK_BODY_TIMEOUT_SECONDS: 3, WEBHOOK_MAX_CONCURRENT_READS: 32 });
    expect(loadConfig(webhookIngestSchema, { WEBHOOK_UNVERIFIED_RATE: '0' }).WEBHOOK_UNVERIFIED_RATE).toBe(0);
    expect(problem({ WEBHOOK_UNVERIFIED_RATE: '-1' })).toMatch(/WEBHOOK_UNVERIFIED_RATE/);
    expect(problem({ WEBHOOK_UNVERIFIED_RATE: 'fast' })).toMatch(/WEBHOOK_UNVERIFIED_RATE.*must be a number/);
    expect(problem({ WEBHOOK_BODY_TIMEOUT_SECONDS: '0' })).toMatch(/WEBHOOK_BODY_TIMEOUT_SECONDS.*must be ≥ 1/);
    expect(problem({ WEBHOOK_MAX_CONCURRENT_READS: '0' })).toMatch(/WEBHOOK_MAX_CONCURRENT_READS.*must be ≥ 1/);
  });
});
