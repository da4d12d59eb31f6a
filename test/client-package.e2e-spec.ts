import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createContext, runInContext } from 'node:vm';
import { gzipSync } from 'node:zlib';

const ROOT = join(__dirname, '..');
const SDK = join(ROOT, 'libs/client');
const DIST = join(SDK, 'dist');

/** The browser bundle's budget, gzipped (libs/client/README.md); WebRTC is its own script. */
const BUNDLE_BUDGET = 10 * 1024;

/**
 * The SDK as users get it: `npm pack` of the built package (npm test builds it first),
 * installed into a project of its own. Both module systems load it, TypeScript resolves its
 * types for both, and the <script> bundle stays small.
 */
describe('@switchboard/client package', () => {
  let project: string;

  beforeAll(() => {
    for (const file of ['index.mjs', 'index.cjs', 'index.d.mts', 'index.d.cts', 'switchboard-client.js', 'switchboard-rtc.js']) {
      if (!existsSync(join(DIST, file))) throw new Error(`libs/client/dist/${file} is missing: run npm run build:client`);
    }
    project = mkdtempSync(join(tmpdir(), 'sb-sdk-consumer-'));
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', project], { cwd: SDK, encoding: 'utf8' }),
    ) as Array<{ filename: string; files: Array<{ path: string }> }>;
    packedFiles = packed.files.map((f) => f.path);
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', `./${packed.filename}`], {
      cwd: project,
      stdio: 'pipe',
    });
  }, 120_000);
  afterAll(() => {
    if (project !== undefined) rmSync(project, { recursive: true, force: true });
  });
  let packedFiles: string[] = [];

  const run = (args: string[]): string => execFileSync(process.execPath, args, { cwd: project, encoding: 'utf8' });

  it('packs the builds, their types and the README, and nothing else', () => {
    expect(packedFiles.sort()).toEqual(
      expect.arrayContaining([
        'README.md',
        'package.json',
        'dist/index.mjs',
        'dist/index.cjs',
        'dist/index.d.mts',
        'dist/index.d.cts',
        'dist/switchboard-client.js',
        'dist/switchboard-rtc.js',
      ]),
    );
    expect(packedFiles.filter((f) => f.startsWith('src/') || f.includes('testing'))).toEqual([]);
    // The protocol library is inlined: nothing refers to it.
    for (const file of ['dist/index.mjs', 'dist/index.cjs', 'dist/index.d.mts']) {
      expect(readFileSync(join(project, 'node_modules/@switchboard/client', file), 'utf8')).not.toContain('@switchboard/protocol');
    }
  });

  it('loads with import (ESM) and require (CommonJS)', () => {
    const check = `
      const c = sb.connect('http://127.0.0.1:9', { token: 't', transports: ['longpoll'] });
      const ok = typeof sb.SwitchboardClient === 'function' && c instanceof sb.SwitchboardClient
        && sb.decodeCursor(sb.encodeCursor([['a:1', { offset: 2, epoch: 'e' }]]), new Set(['a:1'])).get('a:1').offset === 2
        && new sb.SwitchboardClientError('forbidden', 'x').code === 'forbidden';
      c.close();
      console.log(ok ? 'ok' : 'wrong exports');`;
    expect(run(['--input-type=module', '-e', `import * as sb from '@switchboard/client';${check}`]).trim()).toBe('ok');
    expect(run(['--input-type=commonjs', '-e', `const sb = require('@switchboard/client');${check}`]).trim()).toBe('ok');
  });

  it('resolves its types from an ESM and a CommonJS TypeScript project (tsc, nodenext)', () => {
    const usage = `
      const client = connect('https://rt.example.com', { getToken: async (reason: TokenReason) => (reason === 'initial' ? 't' : null) });
      const sub = client.subscribe<{ status: string }>('orders:42');
      sub.on('message', (m: Message<{ status: string }>) => m.data.status.toUpperCase());
      sub.on('error', (e: SwitchboardClientError) => e.code === 'unauthorized');
      const code: ClientErrorCode = 'forbidden';
      // @ts-expect-error a token is a string: the types are real, not any
      connect('https://rt.example.com', { token: 42 });
      void code;`;
    writeFileSync(
      join(project, 'esm.mts'),
      `import { connect, SwitchboardClientError, type ClientErrorCode, type Message, type TokenReason } from '@switchboard/client';${usage}`,
    );
    writeFileSync(
      join(project, 'cjs.cts'),
      `import sb = require('@switchboard/client');\nconst { connect, SwitchboardClientError } = sb;\ntype ClientErrorCode = sb.ClientErrorCode;\ntype Message<T> = sb.Message<T>;\ntype TokenReason = sb.TokenReason;${usage.replace(/\(e: SwitchboardClientError\)/, '(e: InstanceType<typeof SwitchboardClientError>)')}`,
    );
    // skipLibCheck off: the package's own declarations are checked too. `await using` needs
    // the esnext.disposable lib (README).
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          module: 'nodenext',
          moduleResolution: 'nodenext',
          target: 'es2022',
          lib: ['es2023', 'dom', 'esnext.disposable'],
          types: [],
          strict: true,
          noEmit: true,
        },
        files: ['esm.mts', 'cjs.cts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    let output = '';
    try {
      output = execFileSync(process.execPath, [tsc, '-p', join(project, 'tsconfig.json'), '--traceResolution'], {
        cwd: project,
        encoding: 'utf8',
      });
    } catch (err) {
      throw new Error(
        `tsc failed:\n${(err as { stdout?: string }).stdout
          ?.split('\n')
          .filter((l) => l.includes('error'))
          .join('\n')}`,
      );
    }
    // Each module system got its own declaration file.
    expect(output).toMatch(/'@switchboard\/client' was successfully resolved to '.*index\.d\.mts'/);
    expect(output).toMatch(/'@switchboard\/client' was successfully resolved to '.*index\.d\.cts'/);
  }, 120_000);

  it(`keeps the gzipped browser bundle under ${BUNDLE_BUDGET / 1024} KiB`, () => {
    const gzipped = gzipSync(readFileSync(join(DIST, 'switchboard-client.js'))).length;
    expect(gzipped).toBeLessThan(BUNDLE_BUDGET);
  });

  it('loads the <script> bundles in order: the SDK defines Switchboard, the WebRTC script adds RtcRoom to it', () => {
    const page: Record<string, unknown> = { TextEncoder, TextDecoder };
    const context = createContext(page);
    const load = (file: string): unknown => runInContext(readFileSync(join(DIST, file), 'utf8'), context, { filename: file });
    // Alone, the WebRTC script says what is missing instead of failing on an undefined global.
    expect(() => load('switchboard-rtc.js')).toThrow('load switchboard-client.js before switchboard-rtc.js');
    load('switchboard-client.js');
    const sdk = page.Switchboard as Record<string, unknown>;
    expect(typeof sdk.connect).toBe('function');
    expect(sdk.RtcRoom).toBeUndefined();
    load('switchboard-rtc.js');
    expect(typeof sdk.RtcRoom).toBe('function');
  });
});
