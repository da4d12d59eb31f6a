import { execFileSync } from 'node:child_process';
import { lookup as systemLookup } from 'node:dns/promises';
import { mkdtempSync, readFileSync } from 'node:fs';
import { createServer as createHttpServer, Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { AddressInfo, createServer, Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AddressPolicy } from './address-policy';
import { HostLookup, MAX_RESPONSE_BYTES, SafeHttpClient } from './safe-http.client';

/** Counts TCP connections: a refused URL must reach none. */
class CountingListener {
  connections = 0;
  private readonly servers: NetServer[] = [];

  async listen(): Promise<number> {
    const v4 = createServer((s) => {
      this.connections++;
      s.destroy();
    });
    await new Promise<void>((r) => v4.listen(0, '127.0.0.1', r));
    const port = (v4.address() as AddressInfo).port;
    const v6 = createServer((s) => {
      this.connections++;
      s.destroy();
    });
    await new Promise<void>((r, j) => v6.once('error', j).listen(port, '::1', r));
    this.servers.push(v4, v6);
    return port;
  }

  close(): Promise<void[]> {
    return Promise.all(this.servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }
}

/** Name table of the test; anything else goes to the system resolver (`localhost`). */
function tableLookup(table: Record<string, string[]>, calls: string[] = []): HostLookup {
  return async (hostname) => {
    calls.push(hostname);
    const entry = table[hostname];
    if (entry !== undefined) return entry.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
    return systemLookup(hostname, { all: true });
  };
}

const NAMES: Record<string, string[]> = {
  'internal.test': ['10.1.2.3'],
  'metadata.test': ['169.254.169.254'],
  'rebind.test': ['93.184.216.34', '127.0.0.1', '10.0.0.7'],
  'hooks.localhost': ['127.0.0.1'],
  'v6.test': ['::1'],
};

describe('SafeHttpClient: SSRF', () => {
  const listener = new CountingListener();
  let port: number;

  beforeAll(async () => {
    port = await listener.listen();
  });
  afterAll(() => listener.close());

  const table = (p: number): string[] => [
    `http://127.0.0.1:${p}/`,
    `http://127.1:${p}/`,
    `http://2130706433:${p}/`,
    `http://0x7f000001:${p}/`,
    `http://0177.0.0.1:${p}/`,
    `http://127.000.000.001:${p}/`,
    `http://127.0.0.1.:${p}/`,
    `http://[::1]:${p}/`,
    `http://[0:0:0:0:0:0:0:1]:${p}/`,
    `http://[::ffff:127.0.0.1]:${p}/`,
    `http://[::ffff:7f00:1]:${p}/`,
    `http://[::127.0.0.1]:${p}/`,
    `http://[64:ff9b::7f00:1]:${p}/`,
    `http://0.0.0.0:${p}/`,
    `http://0:${p}/`,
    `http://[::]:${p}/`,
    `http://10.0.0.1:${p}/`,
    `http://172.16.5.4:${p}/`,
    `http://192.168.1.1:${p}/`,
    `http://169.254.169.254/latest/meta-data/`,
    `http://[::ffff:169.254.169.254]/latest/meta-data/`,
    `http://100.64.0.1:${p}/`,
    `http://[fd00::1]:${p}/`,
    `http://[fe80::1]:${p}/`,
    `http://224.0.0.1:${p}/`,
    `http://localhost:${p}/`,
    `http://hooks.localhost:${p}/`,
    `http://internal.test:${p}/`,
    `http://metadata.test/`,
    `http://rebind.test:${p}/`,
    `http://v6.test:${p}/`,
    `https://127.0.0.1:${p}/`,
    `https://localhost:${p}/`,
  ];

  it('refuses every blocked spelling without a single TCP connection', async () => {
    const client = new SafeHttpClient({
      policy: new AddressPolicy({ allowCidrs: [], allowHttp: true }),
      timeoutMs: 2000,
      lookup: tableLookup(NAMES),
    });
    try {
      const urls = table(port);
      expect(urls.length).toBeGreaterThanOrEqual(25);
      for (const url of urls) {
        const outcome = await client.post(url, { 'content-type': 'application/json' }, Buffer.from('{}'));
        expect({ url, ok: outcome.ok, code: outcome.error?.code }).toEqual({ url, ok: false, code: 'blocked_address' });
      }
      expect(listener.connections).toBe(0);
    } finally {
      await client.close();
    }
  });

  it('reaches loopback once OUTBOUND_ALLOW_CIDRS names it, and nothing else of the table', async () => {
    const ok = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => res.end('fine'));
    });
    await new Promise<void>((r) => ok.listen(0, '127.0.0.1', r));
    const okPort = (ok.address() as AddressInfo).port;
    const client = new SafeHttpClient({
      policy: new AddressPolicy({ allowCidrs: ['127.0.0.1/32'], allowHttp: true }),
      timeoutMs: 2000,
      lookup: tableLookup(NAMES),
    });
    try {
      for (const url of [`http://127.1:${okPort}/`, `http://2130706433:${okPort}/`, `http://[::ffff:127.0.0.1]:${okPort}/`]) {
        const outcome = await client.post(url, {}, Buffer.from('{}'));
        expect({ url, ok: outcome.ok, status: outcome.statusCode }).toEqual({ url, ok: true, status: 200 });
      }
      // Still refused: other loopback spellings not in the allow list, private ranges, a mixed answer.
      for (const url of [`http://[::1]:${port}/`, `http://10.0.0.1:${port}/`, `http://rebind.test:${port}/`, 'http://metadata.test/']) {
        expect((await client.post(url, {}, Buffer.from('{}'))).error?.code).toBe('blocked_address');
      }
      expect(listener.connections).toBe(0);
    } finally {
      await client.close();
      await new Promise<void>((r) => ok.close(() => r()));
    }
  });

  it('treats a redirect as a failure and never requests its Location', async () => {
    const redirector = createHttpServer((req, res) => {
      req.resume();
      res.writeHead(302, { location: `http://127.0.0.1:${port}/internal` }).end();
    });
    await new Promise<void>((r) => redirector.listen(0, '127.0.0.2', r));
    const client = new SafeHttpClient({
      policy: new AddressPolicy({ allowCidrs: ['127.0.0.2/32'], allowHttp: true }),
      timeoutMs: 2000,
    });
    try {
      const outcome = await client.post(`http://127.0.0.2:${(redirector.address() as AddressInfo).port}/hook`, {}, Buffer.from('{}'));
      expect(outcome).toMatchObject({ ok: false, statusCode: 302, error: { code: 'redirect' } });
      expect(outcome.error?.message).toContain(`127.0.0.1:${port}/internal`);
      expect(listener.connections).toBe(0);
    } finally {
      await client.close();
      await new Promise<void>((r) => redirector.close(() => r()));
    }
  });

  it('resolves once and dials the address it checked (no second lookup to rebind)', async () => {
    const seen: string[] = [];
    const target = createHttpServer((req, res) => {
      seen.push(req.socket.localAddress ?? '');
      req.resume();
      req.on('end', () => res.end());
    });
    await new Promise<void>((r) => target.listen(0, '127.0.0.3', r));
    const calls: string[] = [];
    let answers = 0;
    // First answer allowed, every later one loopback: a rebinding resolver.
    const rebinding: HostLookup = async (hostname) => {
      calls.push(hostname);
      return [{ address: answers++ === 0 ? '127.0.0.3' : '127.0.0.1', family: 4 }];
    };
    const client = new SafeHttpClient({
      policy: new AddressPolicy({ allowCidrs: ['127.0.0.3/32'], allowHttp: true }),
      timeoutMs: 2000,
      lookup: rebinding,
    });
    try {
      const outcome = await client.post(`http://flip.test:${(target.address() as AddressInfo).port}/`, {}, Buffer.from('{}'));
      expect(outcome.ok).toBe(true);
      expect(calls).toEqual(['flip.test']);
      expect(seen).toEqual(['127.0.0.3']);
      expect(listener.connections).toBe(0);
    } finally {
      await client.close();
      await new Promise<void>((r) => target.close(() => r()));
    }
  });

  it('refuses http unless allowed, and URLs with credentials', async () => {
    const client = new SafeHttpClient({
      policy: new AddressPolicy({ allowCidrs: ['127.0.0.1/32'], allowHttp: false }),
      timeoutMs: 1000,
    });
    try {
      expect((await client.post(`http://127.0.0.1:${port}/`, {}, Buffer.alloc(0))).error?.code).toBe('scheme_not_allowed');
      expect((await client.post(`https://u:p@127.0.0.1:${port}/`, {}, Buffer.alloc(0))).error?.code).toBe('invalid_url');
      expect(listener.connections).toBe(0);
    } finally {
      await client.close();
    }
  });
});

describe('SafeHttpClient: answers', () => {
  let server: Server;
  let base: string;
  let handler: (path: string, res: import('node:http').ServerResponse) => void;

  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      req.resume();
      req.on('end', () => handler(req.url ?? '/', res));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const client = (timeoutMs = 2000): SafeHttpClient =>
    new SafeHttpClient({
      policy: new AddressPolicy({ allowCidrs: ['127.0.0.1/32'], allowHttp: true }),
      timeoutMs,
    });

  it('reads at most 64 KiB of a large answer', async () => {
    handler = (_p, res) => res.end(Buffer.alloc(1024 * 1024, 'x'));
    const c = client();
    try {
      const outcome = await c.post(base + '/big', {}, Buffer.alloc(0));
      expect(outcome.ok).toBe(true);
      expect(outcome.body?.length).toBe(MAX_RESPONSE_BYTES);
    } finally {
      await c.close();
    }
  });

  it('reports Retry-After in seconds, as delta or date', async () => {
    handler = (p, res) => {
      if (p === '/delta') res.writeHead(429, { 'retry-after': '7' }).end();
      else res.writeHead(503, { 'retry-after': new Date(Date.now() + 20_000).toUTCString() }).end();
    };
    const c = client();
    try {
      expect(await c.post(base + '/delta', {}, Buffer.alloc(0))).toMatchObject({ ok: false, statusCode: 429, retryAfterSeconds: 7 });
      const dated = await c.post(base + '/date', {}, Buffer.alloc(0));
      expect(dated).toMatchObject({ ok: false, statusCode: 503, error: { code: 'http_status' } });
      expect(dated.retryAfterSeconds).toBeGreaterThanOrEqual(18);
      expect(dated.retryAfterSeconds).toBeLessThanOrEqual(21);
    } finally {
      await c.close();
    }
  });

  it('fails an answer that does not complete within the timeout', async () => {
    handler = (_p, res) => {
      res.writeHead(200);
      res.write('partial');
      // never ends
    };
    const c = client(300);
    try {
      expect(await c.post(base + '/slow', {}, Buffer.alloc(0))).toMatchObject({ ok: false, error: { code: 'timeout' } });
    } finally {
      await c.close();
    }
  });
});

describe('SafeHttpClient: TLS to the checked address', () => {
  it('verifies the certificate against the host name while dialing the resolved address', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sb-tls-'));
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        join(dir, 'key.pem'),
        '-out',
        join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=hooks.test',
        '-addext',
        'subjectAltName=DNS:hooks.test',
      ],
      { stdio: 'ignore' },
    );
    const cert = readFileSync(join(dir, 'cert.pem'));
    const server = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert }, (req, res) => {
      req.resume();
      req.on('end', () => res.end(`sni=${(req.socket as import('node:tls').TLSSocket).servername}`));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    const client = new SafeHttpClient({
      policy: new AddressPolicy({ allowCidrs: ['127.0.0.1/32'], allowHttp: false }),
      timeoutMs: 2000,
      lookup: tableLookup({ 'hooks.test': ['127.0.0.1'], 'other.test': ['127.0.0.1'] }),
      tls: { ca: cert },
    });
    try {
      const good = await client.post(`https://hooks.test:${port}/`, {}, Buffer.alloc(0));
      expect(good).toMatchObject({ ok: true, statusCode: 200 });
      expect(good.body?.toString()).toBe('sni=hooks.test');
      // Same address, a name the certificate does not cover: refused by TLS.
      expect((await client.post(`https://other.test:${port}/`, {}, Buffer.alloc(0))).error?.code).toBe('tls');
    } finally {
      await client.close();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
