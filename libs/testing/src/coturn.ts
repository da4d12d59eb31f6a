import { ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from './servers';

/** Fails with one line saying how to install coturn when it is absent. */
export function requireCoturn(): void {
  if (spawnSync('turnserver', ['--version'], { stdio: 'ignore' }).error) {
    throw new Error(
      'coturn is not installed (turnserver, turnutils_uclient); install it with: apt-get install -y coturn (scripts/setup-test-deps.sh does)',
    );
  }
}

/**
 * A turnserver config file holding only the REST-API shared secret. coturn's config reader
 * trims spaces and double quotes at a value's ends and stops at a line break: such a secret
 * would silently become another one, so it is refused.
 */
export function coturnSecretConfig(secret: string): string {
  if (secret === '' || /^[\s"]|[\s"]$|[\r\n]/.test(secret)) {
    throw new Error('a coturn secret must not be empty, start or end with a space or a double quote, or hold a line break');
  }
  return `static-auth-secret=${secret}\n`;
}

/** A coturn TURN server the test owns, on 127.0.0.1, with coturn's REST-API shared secret. */
export class Coturn {
  private constructor(
    readonly port: number,
    private readonly child: ChildProcess,
    private readonly dir: string,
  ) {}

  static async start(secret: string, realm = 'switchboard.test'): Promise<Coturn> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'sb-turn-'));
    // The secret in a config file, as the chart passes it: never on the command line, which `ps` shows.
    const config = join(dir, 'turnserver.conf');
    writeFileSync(config, coturnSecretConfig(secret), { mode: 0o600 });
    return Coturn.launch(
      [
        '-c',
        config,
        '--listening-ip=127.0.0.1',
        `--listening-port=${port}`,
        '--relay-ip=127.0.0.1',
        '--use-auth-secret',
        `--realm=${realm}`,
        '--allow-loopback-peers',
        '--no-tls',
        '--no-dtls',
        '--no-cli',
        `--pidfile=${join(dir, 'turn.pid')}`,
        `--db=${join(dir, 'turn.db')}`,
        '--log-file=stdout',
      ],
      port,
      dir,
    );
  }

  /**
   * Runs turnserver with exactly `args` (e.g. the chart's command line), listening on `port`;
   * `dir` (removed by stop()) holds what the arguments write. Fails when turnserver exits,
   * as it does on an argument it does not know.
   */
  static async launch(args: string[], port: number, dir: string): Promise<Coturn> {
    requireCoturn();
    let output = '';
    const child = spawn('turnserver', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // The last few KiB of its log, for the error when it exits.
    const keep = (d: Buffer): void => void (output = (output + d.toString()).slice(-4000));
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    const turn = new Coturn(port, child, dir);
    // Ready once a client can reach it (an allocation with bad credentials answers 401, not a timeout).
    for (let i = 0; i < 50; i++) {
      if (child.exitCode !== null) {
        rmSync(dir, { recursive: true, force: true });
        throw new Error(`turnserver exited with ${child.exitCode}: ${output}`);
      }
      if ((await turn.allocate('probe', 'probe')).output.includes('401') || i > 10) break;
      await sleep(100);
    }
    return turn;
  }

  /** Process id of turnserver. */
  get pid(): number {
    return this.child.pid!;
  }

  /** Whether turnserver is still running. */
  get running(): boolean {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  /**
   * Runs one TURN allocation with coturn's own client; `ok` when the server accepted the
   * credentials. Asynchronous: a test's in-process servers keep running meanwhile (a
   * blocked event loop let a server's keep-alive timeout and the client's next request on
   * that connection meet: ECONNRESET).
   */
  allocate(username: string, credential: string): Promise<{ ok: boolean; output: string }> {
    return new Promise((resolve) => {
      execFile(
        'turnutils_uclient',
        ['-u', username, '-w', credential, '-p', String(this.port), '-y', '-n', '1', '-c', '127.0.0.1'],
        { encoding: 'utf8', timeout: 15_000 },
        (err, stdout, stderr) => {
          const output = `${stdout ?? ''}${stderr ?? ''}`;
          resolve({ ok: err === null && !output.includes('Cannot complete Allocation'), output });
        },
      );
    });
  }

  stop(): void {
    this.child.kill('SIGKILL');
    rmSync(this.dir, { recursive: true, force: true });
  }
}
