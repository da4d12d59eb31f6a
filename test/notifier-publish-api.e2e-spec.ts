import type { EngineRuntime } from '@switchboard/engine';
import { RunningService, startService } from '@switchboard/platform';
import { eventually, requireSharedServers } from '@switchboard/testing';
import { request as httpRequest } from 'node:http';
import { notifierDefinition } from '@switchboard/notifier';
import { ChannelRecorder, cleanUp, isolatedEnv, testRuntime } from './support/notifier-harness';

const KEY = 'publish-api-test-key-0123456789';
const LIMIT = 4096;

/** Raw HTTP, for what fetch cannot send (a lying or absent Content-Length). */
function rawPost(url: string, headers: Record<string, string>, chunks: Buffer[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    const write = (i: number): void => {
      if (i >= chunks.length) return void req.end();
      // Stop sending once the server answered; it may close the connection.
      if (!req.writable) return;
      req.write(chunks[i], () => setImmediate(() => write(i + 1)));
    };
    write(0);
  });
}

/** SPEC "HTTP publish API": POST /v1/publish on the real engine. */
describe('publish API', () => {
  let env: Record<string, string>;
  let service: RunningService | undefined;
  let keyless: RunningService | undefined;
  let runtime: EngineRuntime | undefined;

  beforeAll(async () => {
    const { natsUrl, redisUrl } = await requireSharedServers();
    env = isolatedEnv(natsUrl, redisUrl, { PUBLISH_API_KEY: KEY, MAX_MESSAGE_BYTES: String(LIMIT) });
    service = await startService(notifierDefinition, env);
    keyless = await startService(notifierDefinition, { ...env, PUBLISH_API_KEY: '', NOTIFIER_DURABLE: env.NOTIFIER_DURABLE + '_2' });
    runtime = await testRuntime(env);
  });

  afterAll(async () => {
    await service?.stop();
    await keyless?.stop();
    await cleanUp(runtime, env);
  });

  /** `key` null sends no Authorization header. */
  const publish = (body: unknown, key: string | null = KEY, base = service!.url): Promise<Response> =>
    fetch(`${base}/v1/publish`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(key === null ? {} : { authorization: `Bearer ${key}` }) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });

  it('stores the message on each channel and answers its offsets; a repeated idempotencyKey delivers nothing new', async () => {
    const recorder = new ChannelRecorder(runtime!);
    await recorder.subscribe(['orders:1', 'orders:2']);
    const first = await publish({ channels: ['orders:1', 'orders:2'], data: { status: 'paid' }, idempotencyKey: 'k-1' });
    expect(first.status).toBe(200);
    expect(await first.json()).toEqual({ offsets: { 'orders:1': 1, 'orders:2': 1 } });
    const again = await publish({ channels: ['orders:1', 'orders:2'], data: { status: 'paid' }, idempotencyKey: 'k-1' });
    expect(await again.json()).toEqual({ offsets: { 'orders:1': 1, 'orders:2': 1 } });
    const single = await publish({ channel: 'orders:1', data: null });
    expect(await single.json()).toEqual({ offsets: { 'orders:1': 2 } });
    await eventually(() => {
      expect(recorder.received.get('orders:1')!.map((m) => [m.offset, m.data])).toEqual([
        [1, { status: 'paid' }],
        [2, null],
      ]);
      expect(recorder.received.get('orders:2')!.map((m) => m.offset)).toEqual([1]);
    });
  });

  it('answers 401 for a missing or wrong key, before looking at the body', async () => {
    for (const key of [null, 'wrong', KEY + 'x', KEY.slice(0, -1)]) {
      const res = await publish({ channel: 'orders:1', data: 1 }, key);
      expect(res.status).toBe(401);
      expect(await res.json()).toMatchObject({ code: 'unauthorized' });
    }
    const basic = await fetch(`${service!.url}/v1/publish`, { method: 'POST', headers: { authorization: `Basic ${KEY}` }, body: '{}' });
    expect(basic.status).toBe(401);
    // Oversized and invalid at once: the key is checked first.
    expect((await publish({ channel: 'orders:1', data: 'x'.repeat(LIMIT * 2) }, 'wrong')).status).toBe(401);
    expect((await publish('not json', 'wrong')).status).toBe(401);
  });

  it('answers 401 to everyone when no PUBLISH_API_KEY is configured', async () => {
    for (const key of [null, '', 'anything', KEY]) {
      const res = await publish({ channel: 'orders:1', data: 1 }, key, keyless!.url);
      expect(res.status).toBe(401);
    }
  });

  it('answers 400 with the reason, and publishes nothing when any channel is invalid', async () => {
    const cases: Array<[unknown, RegExp]> = [
      ['{"channel":', /not valid JSON/],
      ['[1,2]', /JSON object/],
      ['', /JSON object/],
      [{ channel: 'orders:9' }, /data is required/],
      [{ data: 1 }, /channel or channels is required/],
      [{ channel: 'orders:9', channels: ['orders:9'], data: 1 }, /either channel or channels/],
      [{ channel: 'bad channel', data: 1 }, /invalid channel "bad channel": channel may only contain/],
      [{ channel: 'a..b', data: 1 }, /must not contain "\.\."/],
      [{ channel: 'x'.repeat(129), data: 1 }, /longer than 128/],
      [{ channels: [], data: 1 }, /must not be empty/],
      [{ channels: 'orders:9', data: 1 }, /array/],
      [{ channels: ['orders:9', 'orders:10', '.bad'], data: 1 }, /invalid channel "\.bad"/],
      [{ channel: 'orders:9', data: 1, idempotencyKey: '' }, /idempotencyKey/],
      [{ channel: 'orders:9', data: 1, idempotency_key: 'k' }, /unknown field "idempotency_key"/],
    ];
    for (const [body, reason] of cases) {
      const res = await publish(body);
      const answer = (await res.json()) as { code: string; message: string };
      expect([res.status, answer.code]).toEqual([400, 'bad_request']);
      expect(answer.message).toMatch(reason);
    }
    // The valid channels of the refused requests were never touched.
    const positions = await runtime!.engine.positions(['orders:9', 'orders:10']);
    expect(positions.map((p) => p.offset)).toEqual([0, 0]);
  });

  it('answers 413 for a body over MAX_MESSAGE_BYTES, declared or streamed', async () => {
    const big = { channel: 'orders:big', data: 'x'.repeat(LIMIT) };
    const declared = await publish(big);
    expect(declared.status).toBe(413);
    expect(await declared.json()).toMatchObject({ error: 'too_large', code: 'too_large' });
    // Chunked, no Content-Length: refused once the limit is crossed.
    const chunk = Buffer.alloc(1024, 'x');
    const streamed = await rawPost(
      `${service!.url}/v1/publish`,
      { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      [Buffer.from('{"channel":"orders:big","data":"'), ...Array.from({ length: 8 }, () => chunk), Buffer.from('"}')],
    );
    expect(streamed.status).toBe(413);
    // A body under the limit whose message (with channel, offset, epoch, ts) is over it: still 413 from the engine.
    const edge = await publish({ channel: 'orders:big', data: 'x'.repeat(LIMIT - 40) });
    expect(edge.status).toBe(413);
    expect((await runtime!.engine.positions(['orders:big']))[0].offset).toBe(0);
  });

  it('answers 400 for a body nesting arrays or objects more than 64 levels deep, and publishes nothing', async () => {
    const arrays = (depth: number): string => '['.repeat(depth) + ']'.repeat(depth);
    const objects = (depth: number): string => '{"a":'.repeat(depth) + '1' + '}'.repeat(depth);
    // The body is one level: data may nest 63 more.
    for (const data of [arrays(64), objects(64), arrays(1500), objects(600), `{"s":"${'['.repeat(100)}","deep":${arrays(64)}}`]) {
      const res = await publish(`{"channel":"orders:deep","data":${data}}`);
      expect(res.status).toBe(400);
      expect(await res.json()).toEqual({
        error: 'bad_request',
        code: 'bad_request',
        message: 'body nests arrays and objects more than 64 levels deep',
      });
    }
    expect((await runtime!.engine.positions(['orders:deep']))[0].offset).toBe(0);
    // Exactly the limit is fine, and brackets inside strings do not count.
    const ok = await publish(`{"channel":"orders:deep","data":{"s":"${'['.repeat(100)}","deep":${arrays(62)}}}`);
    expect(ok.status).toBe(200);
  });

  it('counts every refusal for MAX_MESSAGE_BYTES in switchboard_limit_hits_total, read through /metrics', async () => {
    const sample = 'switchboard_limit_hits_total{limit="max_message_bytes",transport="http"}';
    const read = async (): Promise<number> => {
      const line = (await (await fetch(`${service!.url}/metrics`)).text()).split('\n').find((l) => l.startsWith(sample + ' '));
      return line === undefined ? 0 : Number(line.slice(sample.length + 1));
    };
    const before = await read();
    // Declared too large, streamed past the limit, and a message too large once built.
    expect((await publish({ channel: 'orders:big', data: 'x'.repeat(LIMIT) })).status).toBe(413);
    const streamed = await rawPost(
      `${service!.url}/v1/publish`,
      { authorization: `Bearer ${KEY}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
      [Buffer.from('{"channel":"orders:big","data":"'), Buffer.alloc(LIMIT, 'x'), Buffer.from('"}')],
    );
    expect(streamed.status).toBe(413);
    expect((await publish({ channel: 'orders:big', data: 'x'.repeat(LIMIT - 40) })).status).toBe(413);
    expect(await read()).toBe(before + 3);
    // Other refusals are not this limit.
    expect((await publish({ channel: 'bad channel', data: 1 })).status).toBe(400);
    expect((await publish({ channel: 'orders:big', data: 1 }, 'wrong')).status).toBe(401);
    expect(await read()).toBe(before + 3);
  });

  it('serves OpenAPI docs at /docs', async () => {
    const html = await fetch(`${service!.url}/docs`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    expect(await html.text()).toContain('POST /v1/publish');
    const doc = (await (await fetch(`${service!.url}/docs/openapi.json`)).json()) as { openapi: string; paths: Record<string, unknown> };
    expect(doc.openapi).toMatch(/^3\./);
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/v1/dlq',
      '/v1/dlq/replay',
      '/v1/dlq/{seq}',
      '/v1/dlq/{seq}/replay',
      '/v1/endpoints',
      '/v1/endpoints/{id}',
      '/v1/endpoints/{id}/attempts',
      '/v1/endpoints/{id}/replay',
      '/v1/endpoints/{id}/rotate-secret',
      '/v1/endpoints/{id}/test',
      '/v1/publish',
    ]);
  });
});
