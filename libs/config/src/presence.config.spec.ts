import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatewaySchema } from './gateway.config';
import { ConfigError, loadConfig } from './load-config';
import { notifierSchema } from './notifier.config';
import { channelPatternError, loadChannelConfig } from './presence.config';
import { standaloneSchema } from './standalone.config';

const dir = mkdtempSync(join(tmpdir(), 'sb-channel-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

function problem(value: string): string {
  try {
    loadChannelConfig(value);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a configuration error');
}

const SECRET = 'x'.repeat(32);

describe('presence settings', () => {
  it('has the documented defaults and no channel options', () => {
    const c = loadConfig(gatewaySchema, { JWT_SECRET: SECRET });
    expect(c).toMatchObject({ PRESENCE_TTL_SECONDS: 30, PRESENCE_MAX_MEMBERS: 1000 });
    expect(c.CHANNEL_CONFIG).toBeUndefined();
    expect(loadChannelConfig(undefined)).toEqual([]);
  });

  it('refuses bad values at startup in the gateway, the notifier and the single process', () => {
    expect(() => loadConfig(gatewaySchema, { JWT_SECRET: SECRET, PRESENCE_TTL_SECONDS: '0' })).toThrow(/PRESENCE_TTL_SECONDS must be ≥ 1/);
    expect(() => loadConfig(gatewaySchema, { JWT_SECRET: SECRET, PRESENCE_MAX_MEMBERS: 'lots' })).toThrow(
      /PRESENCE_MAX_MEMBERS must be an integer/,
    );
    expect(() => loadConfig(notifierSchema, { PRESENCE_TTL_SECONDS: '0' })).toThrow(/PRESENCE_TTL_SECONDS must be ≥ 1/);
    for (const schema of [gatewaySchema, notifierSchema, standaloneSchema]) {
      expect(() => loadConfig(schema, { JWT_SECRET: SECRET, CHANNEL_CONFIG: '[{"match":"a:*","presense":true}]' })).toThrow(
        /CHANNEL_CONFIG channels\[0\] \("a:\*"\): unknown field\(s\) presense/,
      );
    }
  });
});

describe('CHANNEL_CONFIG', () => {
  it('reads inline JSON, a YAML file and a JSON file, with defaults off', () => {
    expect(loadChannelConfig('[{"match":"rooms:*","presence":true,"joinLeave":true}]')).toEqual([
      { match: 'rooms:*', presence: true, joinLeave: true, lifecycleEvents: false },
    ]);
    const yaml = file(
      'channels.yaml',
      ['channels:', '  - match: "lobby"', '    lifecycleEvents: true', '  - match: "rooms:*"', '    presence: true', '  - match: "*"'].join(
        '\n',
      ),
    );
    expect(loadChannelConfig(yaml)).toEqual([
      { match: 'lobby', presence: false, joinLeave: false, lifecycleEvents: true },
      { match: 'rooms:*', presence: true, joinLeave: false, lifecycleEvents: false },
      { match: '*', presence: false, joinLeave: false, lifecycleEvents: false },
    ]);
    expect(loadChannelConfig(file('c.json', '{"channels":[{"match":"a.b","presence":true}]}'))).toHaveLength(1);
    expect(loadChannelConfig(file('empty.yaml', ''))).toEqual([]);
    expect(loadChannelConfig('{"channels":[]}')).toEqual([]);
  });

  it('names the variable, the file and the bad entry in one line', () => {
    const cases: Array<[string, RegExp]> = [
      ['[{"match":"rooms:*","presence":"yes"}]', /^CHANNEL_CONFIG channels\[0\] \("rooms:\*"\): presence: .*boolean/],
      ['[{"presence":true}]', /^CHANNEL_CONFIG channels\[0\]: match: /],
      ['[{"match":"a b"}]', /channels\[0\] \("a b"\): match: must be a channel name or a prefix ending in \*/],
      ['[{"match":"a*b*"}]', /prefix pattern may only contain/],
      ['[{"match":".x"}]', /must not start or end with "\."/],
      [
        '[{"match":"rooms:*"},{"match":"rooms:42","presence":true}]',
        /channels\[1\] \("rooms:42"\): never applies, channels\[0\] \("rooms:\*"\) matches/,
      ],
      ['[{"match":"*"},{"match":"x:*"}]', /channels\[1\] \("x:\*"\): never applies/],
      ['[{"match":"a"},{"match":"a"}]', /channels\[1\] \("a"\): never applies/],
      ['{"match":"a"}', /must be a list of \{match/],
      ['{"channels":[],"routes":[]}', /unknown top-level keys: routes/],
      ['[{"match":"a",', /^CHANNEL_CONFIG is not valid JSON/],
    ];
    for (const [value, message] of cases) {
      const text = problem(value);
      expect(text).toMatch(message);
      expect(text).not.toContain('\n');
    }
    const path = file('bad.yaml', '- match: "rooms:*"\n  joinleave: true\n');
    expect(problem(path)).toBe(`CHANNEL_CONFIG ${path}: channels[0] ("rooms:*"): unknown field(s) joinleave`);
    expect(problem('/nonexistent/channels.yaml')).toMatch(/^CHANNEL_CONFIG [^\n]*\/nonexistent\/channels.yaml[^\n]*ENOENT/);
    expect(problem(file('broken.yaml', 'channels: [\n'))).toMatch(/^CHANNEL_CONFIG [^\n]*broken.yaml[^\n]*not valid YAML or JSON/);
  });

  it('accepts exact names and prefixes as in tokens', () => {
    expect(channelPatternError('*')).toBeUndefined();
    expect(channelPatternError('chat.*')).toBeUndefined();
    expect(channelPatternError('rtc:room-1')).toBeUndefined();
    expect(channelPatternError('')).toMatch(/must not be empty/);
    expect(channelPatternError('a*')).toBeUndefined();
    expect(channelPatternError('a**')).toMatch(/prefix pattern/);
  });
});
