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
      [
        'routes:\n  - match: { type: "x" }\n    chanels: ["a"]\n',
        /: routes\[0\]\.chanels: is not a known key; did you mean routes\[0\]\.channels\?$/,
      ],
      ['route:\n  - match: { type: "x" }\n', /: route: is not a known key; did you mean routes\?$/],
      [
        'routes:\n  - match: { type: "x", sorce: "y" }\n    channels: ["a"]\n',
        /: routes\[0\]\.match\.sorce: is not a known key; did you mean routes\[0\]\.match\.source\?$/,
      ],
      [
        'routes:\n  - match: { type: "x" }\n    colour: ["a"]\n',
        /routes\[0\]\.colour: is not a known key \(known keys: match, channels\); routes\[0\]\.channels: is required$/,
      ],
      ['routes:\n  - match: { type: "x" }\n    channels: "a"\n', /routes\[0\]\.channels: must be a list$/],
      ['routes:\n  - match: {}\n    channels: ["a"]\n', /needs type or source/],
      ['routes:\n  - match: { type: "x" }\n    channels: []\n', /routes\[0\]\.channels: must name at least one channel/],
      ['routes:\n  - match: { type: "x" }\n    channels: ["repo:{data.a b}"]\n', /placeholder \{data\.a b\}/],
      ['routes:\n  - match: { type: "x" }\n    channels: ["repo {id}"]\n', /literal text "repo "/],
      ['routes:\n  - match: { type: "x" }\n    channels: ["repo:{id"]\n', /unbalanced/],
      ['routes: [\n', /not valid YAML or JSON/],
    ];
    for (const [text, message] of cases) {
      const path = file('r.yaml', text);
      let error: unknown;
      try {
        loadRoutesFile(path);
      } catch (err) {
        error = err;
      }
      expect(error).toBeInstanceOf(ConfigError);
      // The variable, then the file: the operator sees which file to open.
      expect((error as Error).message.startsWith(`ROUTES_CONFIG ${path}: `)).toBe(true);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toContain('\n');
    }
    expect(() => loadRoutesFile('/nonexistent/routes.yaml')).toThrow(
      /^ROUTES_CONFIG \/nonexistent\/routes.yaml: cannot read it \(ENOENT\)$/,
    );
  });

  it('checks template syntax', () => {
    expect(channelTemplateError('orders:{data.id}')).toBeUndefined();
    expect(channelTemplateError('{type}')).toBeUndefined();
    expect(channelTemplateError('')).toMatch(/empty/);
    expect(channelTemplateError('a:{}')).toMatch(/placeholder/);
    expect(channelTemplateError('a:}')).toMatch(/unbalanced/);
  });
});
