import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

const root = join(__dirname, '..');
const script = join(root, 'scripts/build-if-stale.mjs');

/** `node scripts/build-if-stale.mjs --check` on `tree`: exit status and what it says is stale. */
function check(tree: string): { status: number | null; stdout: string } {
  const result = spawnSync(process.execPath, [script, '--check', '--root', tree], { encoding: 'utf8' });
  return { status: result.status, stdout: result.stdout };
}

/** Sets the times of `path` and everything under it. */
function touchTree(path: string, seconds: number): void {
  if (statSync(path).isDirectory()) for (const entry of readdirSync(path)) touchTree(join(path, entry), seconds);
  utimesSync(path, seconds, seconds);
}

describe('npm start builds only what is stale (scripts/build-if-stale.mjs)', () => {
  let tree: string;
  const T0 = 1_700_000_000;

  beforeEach(() => {
    tree = mkdtempSync(join(tmpdir(), 'sb-stale-'));
    const files = [
      'apps/gateway/src/main.ts',
      'apps/gateway/src/hub/hub.spec.ts',
      'libs/engine/src/engine.ts',
      'libs/client/src/client.ts',
      'libs/publisher/src/publisher.ts',
      'tsconfig.json',
      'nest-cli.json',
      'package-lock.json',
      'dist/apps/standalone/main.js',
      'dist/apps/standalone/public/switchboard-client.js',
      'apps/gateway/src/console/ui/main.ts',
      'dist/apps/standalone/public/console/console.js',
    ];
    for (const file of files) {
      mkdirSync(dirname(join(tree, file)), { recursive: true });
      writeFileSync(join(tree, file), '');
    }
    touchTree(tree, T0);
    touchTree(join(tree, 'dist'), T0 + 60);
  });
  afterEach(() => rmSync(tree, { recursive: true, force: true }));

  it('leaves a build alone that is newer than every source', () => {
    expect(check(tree)).toEqual({ status: 0, stdout: '' });
    // Specs and the publisher library are not in the bundle.
    utimesSync(join(tree, 'apps/gateway/src/hub/hub.spec.ts'), T0 + 120, T0 + 120);
    utimesSync(join(tree, 'libs/publisher/src/publisher.ts'), T0 + 120, T0 + 120);
    expect(check(tree).status).toBe(0);
  });

  it('names the source that is newer than the build', () => {
    utimesSync(join(tree, 'libs/engine/src/engine.ts'), T0 + 120, T0 + 120);
    expect(check(tree)).toEqual({
      status: 1,
      stdout: 'stale: the single process: libs/engine/src/engine.ts is newer than dist/apps/standalone/main.js\n',
    });
    utimesSync(join(tree, 'libs/client/src/client.ts'), T0 + 120, T0 + 120);
    expect(check(tree).stdout).toContain(
      'stale: the SDK bundle of the inspector: libs/client/src/client.ts is newer than dist/apps/standalone/public/switchboard-client.js',
    );
  });

  it("rebuilds only the console's bundle when only its UI changed", () => {
    utimesSync(join(tree, 'apps/gateway/src/console/ui/main.ts'), T0 + 120, T0 + 120);
    expect(check(tree)).toEqual({
      status: 1,
      stdout: 'stale: the console: apps/gateway/src/console/ui/main.ts is newer than dist/apps/standalone/public/console/console.js\n',
    });
  });

  it('takes a new spec for no change, and a missing build for a stale one', () => {
    writeFileSync(join(tree, 'apps/gateway/src/hub/new.spec.ts'), '');
    expect(check(tree).status).toBe(0);
    rmSync(join(tree, 'dist'), { recursive: true });
    expect(check(tree).stdout).toContain('stale: the single process: dist/apps/standalone/main.js does not exist');
  });
});

describe('npm start on a built tree', () => {
  it('shows a configuration error at once, without building', async () => {
    const stale = check(root);
    if (stale.status !== 0)
      throw new Error(`the checkout is not built: run node scripts/build-if-stale.mjs first (${stale.stdout.trim()})`);
    const child = spawn('npm', ['start'], { cwd: root, env: { PATH: process.env.PATH, PORT: 'abc' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(code).not.toBe(0);
    expect(output).toContain('switchboard: invalid configuration: PORT must be an integer between 0 and 65535 (got "abc")');
    expect(output).not.toMatch(/> switchboard@[\d.]+ build|nest build|webpack|building/);
  });
});
