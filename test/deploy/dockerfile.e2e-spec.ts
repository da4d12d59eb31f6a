import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { appsWithDefinitions } from './support/services';
import { repoRoot } from './support/tools';

/**
 * No Docker engine runs here, so the Dockerfile is read, not built: these checks hold it to
 * SPEC "Deployment" (multi-stage, `npm ci --omit=dev`, non-root, only dist and production
 * dependencies, `node dist/apps/<name>/main.js`, no shell at run time).
 */

interface Instruction {
  keyword: string;
  args: string;
}

interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const logical = text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const line of logical) {
    const [keyword, ...rest] = line.split(/\s+/);
    const instruction = { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    if (instruction.keyword === 'FROM') {
      const [base, as, name] = rest;
      stages.push({ name: as?.toUpperCase() === 'AS' ? name : String(stages.length), base, instructions: [] });
    } else if (stages.length === 0 && instruction.keyword === 'ARG') {
      const [name, value] = instruction.args.split('=');
      args.set(name, value ?? '');
    } else {
      stages[stages.length - 1]?.instructions.push(instruction);
    }
  }
  return { args, stages };
}

const { args, stages } = parseDockerfile(readFileSync(join(repoRoot, 'Dockerfile'), 'utf8'));
const stage = (name: string): Stage | undefined => stages.find((s) => s.name === name);

/** The instructions a stage runs, its ancestors' first (FROM <stage> inherits). */
function lineage(name: string): Instruction[] {
  const s = stage(name);
  if (!s) return [];
  return [...lineage(s.base), ...s.instructions];
}

const last = (instructions: Instruction[], keyword: string): string | undefined =>
  instructions.filter((i) => i.keyword === keyword).pop()?.args;

it('builds from node:24 in several stages', () => {
  expect(stages.length).toBeGreaterThanOrEqual(3);
  expect(args.get('NODE_IMAGE')).toMatch(/^node:24-/);
  for (const s of stages) {
    const root = stage(s.base) ? undefined : s.base;
    if (root !== undefined) expect({ stage: s.name, base: root }).toEqual({ stage: s.name, base: '${NODE_IMAGE}' });
  }
});

it('installs production dependencies with npm ci --omit=dev in a stage of their own', () => {
  const deps = stages.filter((s) => s.instructions.some((i) => i.keyword === 'RUN' && /npm ci\b.*--omit=dev/.test(i.args)));
  expect(deps.map((s) => s.name)).toEqual(['deps']);
});

describe.each(appsWithDefinitions())('the %s image', (name) => {
  const instructions = lineage(name);

  it('is a target of its own', () => {
    expect(stage(name)).toBeDefined();
  });

  it('runs node dist/apps/<name>/main.js in exec form, without a shell entrypoint', () => {
    expect(JSON.parse(last(instructions, 'CMD') ?? 'null')).toEqual(['node', `dist/apps/${name}/main.js`]);
    expect(JSON.parse(last(instructions, 'ENTRYPOINT') ?? 'null')).toEqual([]);
  });

  it('runs with NODE_ENV=production, so no development key is generated or printed', () => {
    const env = instructions.filter((i) => i.keyword === 'ENV').map((i) => i.args);
    expect(env.join(' ')).toMatch(/(^|\s)NODE_ENV=production(\s|$)/);
  });

  it('runs as a numeric non-root user', () => {
    const user = last(instructions, 'USER') ?? '';
    expect(user).toMatch(/^\d+(:\d+)?$/);
    expect(Number(user.split(':')[0])).toBeGreaterThan(0);
  });

  it('holds only package.json, the production dependencies and its own bundle', () => {
    const copies = instructions.filter((i) => i.keyword === 'COPY').map((i) => i.args.replace(/--chown=\S+\s*/, ''));
    expect(copies.sort()).toEqual(
      ['--from=deps /app/node_modules ./node_modules', `--from=build /app/dist/apps/${name} ./dist/apps/${name}`, 'package.json ./'].sort(),
    );
    expect(instructions.some((i) => i.keyword === 'RUN')).toBe(false);
  });
});

it('runs the single process (standalone target) with NODE_ENV=production: no development key is generated or printed', () => {
  expect(JSON.parse(last(lineage('standalone'), 'CMD') ?? 'null')).toEqual(['node', 'dist/apps/standalone/main.js']);
  const env = lineage('standalone').filter((i) => i.keyword === 'ENV');
  expect(env.map((i) => i.args).join(' ')).toMatch(/(^|\s)NODE_ENV=production(\s|$)/);
});

it('sends the build only what it copies (.dockerignore is an allowlist)', () => {
  const ignore = readFileSync(join(repoRoot, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  expect(ignore[0]).toBe('*');
  const allowed = new Set(ignore.filter((l) => l.startsWith('!')).map((l) => l.slice(1).replace(/\/$/, '')));
  const sources = stages
    .flatMap((s) => s.instructions)
    .filter((i) => i.keyword === 'COPY' && !i.args.includes('--from='))
    .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
  for (const source of sources)
    expect({ source, allowed: allowed.has(source.replace(/^\.\//, '').replace(/\/$/, '')) }).toEqual({ source, allowed: true });
  for (const excluded of ['**/node_modules', '**/dist']) expect(ignore).toContain(excluded);
});
