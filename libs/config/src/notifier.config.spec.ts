import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from './load-config';
import { channelTemplateError, loadRoutesFile, notifierSchema } from './notifier.config';

function file(name: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'sb-routes-')), name);
  writeFileSync(path, text);
  return path;
}

describe('notifier config', () => {
  it('has the documented defaults', () => {
    expect(loadConfig(notifierSchema, {})).toMatchObject({
      NOTIFIER_DURABLE: 'notifier',
      NOTIFIER_ACK_WAIT_SECONDS: 30,
      NOTIFIER_MAX_DELIVER: 10,
      NOTIFIER_RETRY_BASE_MS: 500,
      NOTIFIER_RETRY_MAX_MS: 15000,
      NOTIFIER_CONCURRENCY: 32,
    });
  });

  it('refuses a retry cap below the base and a durable name JetStream would refuse', () => {
    expect(() => loadConfig(notifierSchema, { NOTIFIER_RETRY_BASE_MS: '1000', NOTIFIER_RETRY_MAX_MS: '10' })).toThrow(
      /NOTIFIER_RETRY_MAX_MS must be ≥ NOTIFIER_RETRY_BASE_MS/,
    );
    expect(() => loadConfig(notifierSchema, { NOTIFIER_DURABLE: 'a.b' })).toThrow(/NOTIFIER_DURABLE must be 1–64 characters/);
  });
});

describe('ROUTES_CONFIG', () => {
  it('reads YAML and JSON files', () => {
    const yaml = file(
      'r.yaml',
      'routes:\n  - match: { type: "github.push", source: "webhook/gh" }\n    channels: ["repo:{data.repository.full_name}"]\n',
    );
    expect(loadRoutesFile(yaml).routes).toEqual([
      { match: { type: 'github.push', source: 'webhook/gh' }, channels: ['repo:{data.repository.full_name}'] },
    ]);
    const json = file('r.json', JSON.stringify({ routes: [{ match: { type: 'stripe.*' }, channels: ['payments:all'] }] }));
    expect(loadRoutesFile(json).routes).toHaveLength(1);
    expect(loadRoutesFile(undefined)).toEqual({ routes: [] });
  });

  it('fails with one line naming the variable and the problem', () => {
    const cases: Array<[string, RegExp]> = [
      ['routes:\n  - match: { type: "x" }\n    chanels: ["a"]\n', /ROUTES_CONFIG: routes\.0.*(chanels|channels)/],
      ['routes:\n  - match: {}\n    channels: ["a"]\n', /needs type or source/],
      ['routes:\n  - match: { type: "x" }\n    channels: []\n', /at least one channel/],
      ['routes:\n  - match: { type: "x" }\n    channels: ["repo:{data.a b}"]\n', /placeholder \{data\.a b\}/],
      ['routes:\n  - match: { type: "x" }\n    channels: ["repo {id}"]\n', /literal text "repo "/],
      ['routes:\n  - match: { type: "x" }\n    channels: ["repo:{id"]\n', /unbalanced/],
      ['routes: [\n', /not valid YAML or JSON/],
    ];
    for (const [text, message] of cases) {
      let error: unknown;
      try {
        loadRoutesFile(file('r.yaml', text));
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      expect((error as Error).message).toMatch(/^ROUTES_CONFIG: /);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
    expect(() => loadRoutesFile('/nonexistent/routes.yaml')).toThrow(/ROUTES_CONFIG: cannot read \/nonexistent\/routes.yaml: ENOENT/);
  });

  it('checks template syntax', () => {
    expect(channelTemplateError('orders:{data.id}')).toBeUndefined();
    expect(channelTemplateError('{type}')).toBeUndefined();
    expect(channelTemplateError('')).toMatch(/empty/);
    expect(channelTemplateError('a:{}')).toMatch(/placeholder/);
    expect(channelTemplateError('a:}')).toMatch(/unbalanced/);
  });
});
