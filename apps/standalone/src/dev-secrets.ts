import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The keys `npm start` makes up in development when they are not set. */
export const DEV_SECRET_NAMES = ['JWT_SECRET', 'PUBLISH_API_KEY', 'ADMIN_API_KEY'] as const;
export type DevSecretName = (typeof DEV_SECRET_NAMES)[number];

/** Where generated development keys are kept, relative to the working directory (git-ignored). */
export const DEV_SECRETS_FILE = join('.switchboard', 'dev-secrets.json');

/** The development keys of this run. */
export interface DevSecrets {
  /** Keys this process made up (now or in an earlier run, read back from the file); never a supplied one. */
  readonly generated: Partial<Record<DevSecretName, string>>;
  /** The file they are kept in. */
  readonly file: string;
  /**
   * Writes new keys to the file (once the process has started: a start that fails leaves
   * nothing behind). Returns why they could not be kept, if so (they then change with the
   * next start).
   */
  save(): string | undefined;
}

/** `NODE_ENV=production` (the images set it): nothing is generated and nothing printed. */
export function isProduction(env: NodeJS.ProcessEnv): boolean {
  return env.NODE_ENV === 'production';
}

const unset = (value: string | undefined): boolean => value === undefined || value.trim() === '';

function generate(name: DevSecretName): string {
  switch (name) {
    case 'JWT_SECRET':
      return randomBytes(32).toString('base64url');
    case 'PUBLISH_API_KEY':
      return 'dev-publish-' + randomBytes(24).toString('base64url');
    case 'ADMIN_API_KEY':
      return 'dev-admin-' + randomBytes(24).toString('base64url');
  }
}

/** A kept value is used only if it could have been generated (an edited file never yields a weak key). */
function plausible(name: DevSecretName, value: unknown): value is string {
  return (
    typeof value === 'string' &&
    /^[A-Za-z0-9_-]{32,}$/.test(value.replace(/^dev-(publish|admin)-/, '')) &&
    (name !== 'JWT_SECRET' || value.length >= 32)
  );
}

function readKept(file: string): Record<string, unknown> {
  try {
    const stat = statSync(file);
    // Someone loosened it: the keys open every channel, keep them to their owner.
    if ((stat.mode & 0o077) !== 0) chmodSync(file, 0o600);
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/**
 * Development only (never with `NODE_ENV=production`): sets each of JWT_SECRET (unless
 * JWT_JWKS_URL is set), PUBLISH_API_KEY and ADMIN_API_KEY that `env` leaves unset to a
 * generated key, kept in `file` (mode 0600) so that tokens and keys survive restarts.
 * Supplied values are never touched, stored or reported.
 */
export function provideDevSecrets(env: NodeJS.ProcessEnv, file: string = join(process.cwd(), DEV_SECRETS_FILE)): DevSecrets {
  const generated: Partial<Record<DevSecretName, string>> = {};
  const nothingToSave = { generated, file, save: () => undefined };
  if (isProduction(env)) return nothingToSave;
  const wanted = DEV_SECRET_NAMES.filter((name) => unset(env[name]) && !(name === 'JWT_SECRET' && !unset(env.JWT_JWKS_URL)));
  if (wanted.length === 0) return nothingToSave;
  const kept = readKept(file);
  let changed = false;
  for (const name of wanted) {
    const keptValue = kept[name];
    let value: string;
    if (plausible(name, keptValue)) {
      value = keptValue;
    } else {
      value = generate(name);
      kept[name] = value;
      changed = true;
    }
    generated[name] = value;
    env[name] = value;
  }
  if (!changed) return { generated, file, save: () => undefined };
  return { generated, file, save: () => write(file, kept) };
}

function write(file: string, kept: Record<string, unknown>): string | undefined {
  try {
    mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, JSON.stringify(kept, null, 2) + '\n', { mode: 0o600 });
    renameSync(temporary, file);
    return undefined;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}
