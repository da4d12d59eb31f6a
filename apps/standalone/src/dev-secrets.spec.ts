import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { provideDevSecrets } from './dev-secrets';

describe('provideDevSecrets', () => {
  let dir: string;
  let file: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sb-dev-secrets-'));
    file = join(dir, '.switchboard', 'dev-secrets.json');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('generates what is unset, and keeps it for the next start once saved', () => {
    const env: NodeJS.ProcessEnv = { PUBLISH_API_KEY: '' };
    const first = provideDevSecrets(env, file);
    expect(Object.keys(first.generated)).toEqual(['JWT_SECRET', 'PUBLISH_API_KEY', 'ADMIN_API_KEY']);
    expect(env.JWT_SECRET).toBe(first.generated.JWT_SECRET);
    expect(() => statSync(file)).toThrow(/ENOENT/);
    expect(first.save()).toBeUndefined();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = provideDevSecrets({}, file);
    expect(again.generated).toEqual(first.generated);
  });

  it('never touches, stores or reports a supplied value', () => {
    const env: NodeJS.ProcessEnv = { JWT_SECRET: 'supplied-secret-of-at-least-32-bytes!!', PUBLISH_API_KEY: 'supplied-key' };
    const dev = provideDevSecrets(env, file);
    expect(Object.keys(dev.generated)).toEqual(['ADMIN_API_KEY']);
    expect(env).toMatchObject({ JWT_SECRET: 'supplied-secret-of-at-least-32-bytes!!', PUBLISH_API_KEY: 'supplied-key' });
    dev.save();
    expect(readFileSync(file, 'utf8')).not.toMatch(/supplied/);
  });

  it('generates no JWT_SECRET when tokens come from a JWKS', () => {
    expect(provideDevSecrets({ JWT_JWKS_URL: 'https://id.example.com/jwks' }, file).generated.JWT_SECRET).toBeUndefined();
  });

  it('generates and reads nothing in production', () => {
    mkdirSync(join(dir, '.switchboard'));
    writeFileSync(file, JSON.stringify({ JWT_SECRET: 'k'.repeat(43) }));
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'production' };
    expect(provideDevSecrets(env, file).generated).toEqual({});
    expect(env.JWT_SECRET).toBeUndefined();
  });

  it('replaces an unreadable or weak kept value, and tightens a loosened file', () => {
    mkdirSync(join(dir, '.switchboard'));
    writeFileSync(file, JSON.stringify({ JWT_SECRET: 'short', PUBLISH_API_KEY: 42 }), { mode: 0o644 });
    chmodSync(file, 0o644);
    const dev = provideDevSecrets({}, file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(dev.generated.JWT_SECRET).toMatch(/^[\w-]{43}$/);
    expect(dev.generated.PUBLISH_API_KEY).toMatch(/^dev-publish-[\w-]{32}$/);
    writeFileSync(file, 'not json');
    expect(provideDevSecrets({}, file).generated.JWT_SECRET).toMatch(/^[\w-]{43}$/);
  });

  it('says why the keys could not be kept', () => {
    writeFileSync(join(dir, '.switchboard'), 'a file where the directory should be');
    expect(provideDevSecrets({}, file).save()).toBe('EEXIST');
  });
});
