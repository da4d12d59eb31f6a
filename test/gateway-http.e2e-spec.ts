import type { ChannelEngine } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { eventually, signToken, uniqueName, WsTestClient } from '@switchboard/testing';
import { connect, Socket } from 'node:net';
import { startGateway, wsUrl } from './support/gateway';
import { cursorOf, decodeCursorJson, SseTestClient } from './support/sse';

describe('gateway: SSE /v1/sse and long-poll /v1/poll (memory engine)', () => {
  let gw: RunningService;
  let engine: ChannelEngine;
  let token: string;
  const open: SseTestClient[] = [];
  const sse = (query: string, init: { token?: string; lastEventId?: string } = {}): SseTestClient => {
    const c = new SseTestClient(`${gw.url}/v1/sse?${query}`, { token, ...init });
    open.push(c);
    return c;
  };
  const poll = async (query: string, auth = token): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${gw.url}/v1/poll?${query}`, { headers: { Authorization: `Bearer ${auth}` } });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  beforeAll(async () => {
    gw = await startGateway({ SSE_KEEPALIVE_SECONDS: '1' });
    engine = gw.platform.runtime.engine;
    token = await signToken({ sub: 'sue', channels: ['news:*', 'multi*'] });
  });
  afterEach(() => open.splice(0).forEach((c) => c.close()));
  afterAll(async () => gw?.stop());

  it('streams messages in order with cursor ids, proxy-friendly headers, retry and ping events', async () => {
    const channel = uniqueName('news');
    const res = await fetch(`${gw.url}/v1/sse?channel=news:${channel}`, { headers: { Authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(res.headers.get('x-accel-buffering')).toBe('no');
    const reader = res.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    expect(first).toMatch(/^retry: \d+\nid: [\w-]+\n\n/);
    await reader.cancel();

    const c = sse(`channel=news:${channel}`);
    await c.opened();
    for (let i = 1; i <= 10; i++) await engine.publish({ channel: `news:${channel}`, data: { i }, type: 'n' });
    await eventually(() => expect(c.offsets()).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
    const last = c.events.filter((e) => e.type === 'message').at(-1)!;
    const cursor = decodeCursorJson(last.lastEventId);
    expect(cursor[`news:${channel}`][0]).toBe(10);
    // Keep-alive pings are their own event type; message listeners never see them.
    await eventually(() => expect(c.events.some((e) => e.type === 'ping' && /^\d+$/.test(e.data))).toBe(true), 3000);
  });

  it('refuses bad requests with plain HTTP statuses before the stream starts', async () => {
    const get = (q: string, auth?: string): Promise<number> =>
      fetch(`${gw.url}/v1/sse?${q}`, auth ? { headers: { Authorization: `Bearer ${auth}` } } : {}).then((r) => r.status);
    expect(await get('channel=news:1')).toBe(401);
    expect(await get('channel=news:1', 'bad')).toBe(401);
    expect(await get('channel=secret:1', token)).toBe(403);
    expect(await get('channel=news..1', token)).toBe(400);
    expect(await get('', token)).toBe(400);
    expect(await get('channel=news:1&lastEventId=!!!', token)).toBe(400);
    expect(await get(`channel=news:1&lastEventId=${cursorOf({ 'news:1': [-5, 'e'] } as never)}`, token)).toBe(400);
    // An entry for a channel the request does not name is ignored, even malformed.
    const ok = await fetch(`${gw.url}/v1/sse?channel=news:1&lastEventId=${Buffer.from('{"other:1":"junk"}').toString('base64url')}`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(ok.status).toBe(200);
    await ok.body?.cancel();
  });

  it('resumes every channel of a stream from Last-Event-ID, header winning over the query', async () => {
    const a = `multi:${uniqueName('a')}`;
    const b = `multi:${uniqueName('b')}`;
    const c1 = sse(`channel=${a}&channel=${b}`);
    await c1.opened();
    await engine.publish({ channel: a, data: 'a1' });
    await engine.publish({ channel: b, data: 'b1' });
    await eventually(() => expect(c1.messages()).toHaveLength(2));
    const resumeFrom = c1.lastEventId;
    expect(Object.keys(decodeCursorJson(resumeFrom)).sort()).toEqual([a, b].sort());
    c1.close();
    await engine.publish({ channel: a, data: 'a2' });
    await engine.publish({ channel: b, data: 'b2' });
    await engine.publish({ channel: a, data: 'a3' });
    // Past offset 0: a position at 0 of another epoch missed nothing while history starts at 1.
    const stale = cursorOf({ [a]: [1, 'nope'] });
    const c2 = sse(`channel=${a}&channel=${b}&lastEventId=${stale}`, { lastEventId: resumeFrom });
    await eventually(() => expect(c2.messages().map((m) => m.data)).toEqual(['a2', 'a3', 'b2']));
    expect(c2.events.some((e) => e.type === 'recovery')).toBe(false);
    // With only the query (stale epoch for a): recovery event, then what history holds.
    const c3 = sse(`channel=${a}&lastEventId=${stale}`);
    await eventually(() =>
      expect(c3.events.find((e) => e.type === 'recovery')?.data).toBe(JSON.stringify({ channel: a, recovered: false })),
    );
    await eventually(() => expect(c3.offsets(a)).toEqual([1, 2, 3]));
  });

  it('frames the stream for the connection: raw for HTTP/1.0, chunked behind a pipelined response', async () => {
    const channel = `news:${uniqueName('raw')}`;
    const { hostname, port } = new URL(gw.url);
    const auth = `Host: ${hostname}\r\nAuthorization: Bearer ${token}\r\n`;
    const rawConnection = (request: string): { socket: Socket; bytes: () => string } => {
      const socket = connect(Number(port), hostname);
      let bytes = '';
      socket.on('data', (d: Buffer) => (bytes += d.toString('latin1')));
      socket.write(request);
      return { socket, bytes: () => bytes };
    };
    // HTTP/1.0 has no chunked encoding: the body is the event stream itself, ended by the close.
    const old = rawConnection(`GET /v1/sse?channel=${channel} HTTP/1.0\r\n${auth}\r\n`);
    // A stream queued behind a held poll on its connection gets the socket only once the poll is answered.
    const cursor = (await poll(`channel=${channel}`)).body.cursor as string;
    const piped = rawConnection(
      `GET /v1/poll?channel=${channel}&cursor=${cursor}&timeout=1 HTTP/1.1\r\n${auth}\r\n` +
        `GET /v1/sse?channel=${channel} HTTP/1.1\r\n${auth}\r\n`,
    );
    try {
      await eventually(() => expect(old.bytes()).toContain('\r\n\r\nretry: '));
      // The poll times out empty after a second; then the stream's head follows on the connection.
      await eventually(() => expect(piped.bytes()).toMatch(/"messages":\[\][^]*HTTP\/1\.1 200/), 5000);
      for (let i = 1; i <= 3; i++) await engine.publish({ channel, data: i });
      const offsetsOf = (body: string): number[] => {
        const events = body.split('\n\n').filter((e) => e !== '');
        // Every line of every event is an SSE field: no chunk framing leaked into the stream.
        for (const e of events) for (const line of e.split('\n')) expect(line).toMatch(/^(retry|id|event|data): /);
        return events
          .filter((e) => e.includes('event: message'))
          .map((e) => (JSON.parse(e.split('data: ')[1]) as { offset: number }).offset);
      };
      await eventually(() => {
        const [head, body] = old.bytes().split('\r\n\r\n');
        expect(head).toMatch(/^HTTP\/1\.[01] 200/);
        expect(head.toLowerCase()).not.toContain('transfer-encoding');
        expect(offsetsOf(body)).toEqual([1, 2, 3]);
      });
      await eventually(() => {
        const stream = piped.bytes().slice(piped.bytes().lastIndexOf('HTTP/1.1 200'));
        const [head, chunked] = [stream.slice(0, stream.indexOf('\r\n\r\n')), stream.slice(stream.indexOf('\r\n\r\n') + 4)];
        expect(head.toLowerCase()).toContain('transfer-encoding: chunked');
        expect(offsetsOf(dechunk(chunked))).toEqual([1, 2, 3]);
      });
    } finally {
      old.socket.destroy();
      piped.socket.destroy();
    }
  });

  it('long-poll: position without a cursor, messages after it, a held poll answered on publish, timeout=0, lost positions', async () => {
    const channel = `news:${uniqueName('poll')}`;
    const start = await poll(`channel=${channel}`);
    expect(start.status).toBe(200);
    expect(start.body.messages).toEqual([]);
    const cursor0 = start.body.cursor as string;
    expect(decodeCursorJson(cursor0)[channel][0]).toBe(0);
    await engine.publish({ channel, data: 1 });
    await engine.publish({ channel, data: 2 });
    const next = await poll(`channel=${channel}&cursor=${cursor0}`);
    expect((next.body.messages as Array<{ offset: number }>).map((m) => m.offset)).toEqual([1, 2]);
    const cursor2 = next.body.cursor as string;
    // timeout=0 is short polling: answered at once, not held for the default 25 s.
    const shortPollStarted = Date.now();
    expect(await poll(`channel=${channel}&cursor=${cursor2}&timeout=0`)).toMatchObject({
      status: 200,
      body: { messages: [], cursor: cursor2 },
    });
    expect(Date.now() - shortPollStarted).toBeLessThan(5000);
    const heldBefore = gw.platform.runtime.engine.heldChannels();
    const held = poll(`channel=${channel}&cursor=${cursor2}&timeout=10`);
    // The poll holds: it subscribed the channel.
    await eventually(() => expect(gw.platform.runtime.engine.heldChannels()).toBe(heldBefore + 1));
    await engine.publish({ channel, data: 3 });
    const answered = await held;
    expect((answered.body.messages as Array<{ data: number }>).map((m) => m.data)).toEqual([3]);
    const lost = await poll(`channel=${channel}&cursor=${cursorOf({ [channel]: [1, 'gone'] })}`);
    expect(lost.body).toMatchObject({ recovered: false, lost: [channel] });
    expect((lost.body.messages as unknown[]).length).toBe(3);
    expect(await poll(`channel=${channel}&timeout=61`).then((r) => r.status)).toBe(400);
    expect(await poll(`channel=secret:1`).then((r) => r.status)).toBe(403);
    expect(await poll(`channel=${channel}`, 'nope').then((r) => r.status)).toBe(401);
  });

  it('long-poll of several channels: each moves only by its own messages, whether it came from the cursor or started fresh', async () => {
    const [a, b] = [`news:${uniqueName('pa')}`, `news:${uniqueName('pb')}`];
    await engine.publish({ channel: a, data: 'a1' });
    const cursorA = (await poll(`channel=${a}`)).body.cursor as string;
    // `a` from the cursor (at 1), `b` absent from it: it starts at its current position (0).
    const held = poll(`channel=${a}&channel=${b}&cursor=${cursorA}&timeout=10`);
    await eventually(() => expect(gw.platform.runtime.engine.heldChannels()).toBeGreaterThanOrEqual(2));
    await engine.publish({ channel: b, data: 'b1' });
    const first = (await held).body;
    expect((first.messages as Array<{ data: string }>).map((m) => m.data)).toEqual(['b1']);
    expect(decodeCursorJson(first.cursor as string)).toMatchObject({ [a]: [1, expect.any(String)], [b]: [1, expect.any(String)] });
    // Both from the cursor now (polls of the same query share its positions): a message on
    // the second channel moves the second, and a later poll from the same cursor starts where it did.
    const query = `channel=${a}&channel=${b}&cursor=${first.cursor as string}&timeout=10`;
    const second = poll(query);
    await eventually(() => expect(gw.platform.runtime.engine.heldChannels()).toBeGreaterThanOrEqual(2));
    await engine.publish({ channel: b, data: 'b2' });
    await engine.publish({ channel: a, data: 'a2' });
    const answered = (await second).body;
    const again = (await poll(query)).body;
    for (const body of [answered, again]) {
      const data = (body.messages as Array<{ data: string }>).map((m) => m.data);
      expect(data).toContain('b2');
      const cursor = decodeCursorJson(body.cursor as string);
      expect(cursor[b][0]).toBe(2);
      expect(cursor[a][0]).toBe(data.includes('a2') ? 2 : 1);
    }
    // Order holds within a channel; across channels the backlog is read channel by channel.
    expect((again.messages as Array<{ data: string }>).map((m) => m.data).sort()).toEqual(['a2', 'b2']);
  });

  it('moves a position between transports without loss or duplicate (WS → SSE → poll → WS)', async () => {
    const channel = `news:${uniqueName('x')}`;
    const ws = await WsTestClient.connect(wsUrl(gw, token));
    await ws.request('subscribe', { channel });
    for (let i = 1; i <= 3; i++) await engine.publish({ channel, data: i });
    await eventually(() => expect(ws.offsets(channel)).toEqual([1, 2, 3]));
    const last = ws.messages(channel)[2];
    ws.close();
    for (let i = 4; i <= 6; i++) await engine.publish({ channel, data: i });
    // WS position → SSE cursor.
    const s = sse(`channel=${channel}`, { lastEventId: cursorOf({ [channel]: [last.offset as number, last.epoch as string] }) });
    await eventually(() => expect(s.offsets(channel)).toEqual([4, 5, 6]));
    const sseCursor = s.lastEventId;
    s.close();
    await engine.publish({ channel, data: 7 });
    // SSE cursor → long-poll.
    const p = await poll(`channel=${channel}&cursor=${sseCursor}`);
    expect((p.body.messages as Array<{ offset: number }>).map((m) => m.offset)).toEqual([7]);
    await engine.publish({ channel, data: 8 });
    // Long-poll cursor → WS position.
    const [offset, epoch] = decodeCursorJson(p.body.cursor as string)[channel];
    const ws2 = await WsTestClient.connect(wsUrl(gw, token));
    expect(await ws2.request('subscribe', { channel, since: { offset, epoch } })).toMatchObject({ recovered: true });
    await eventually(() => expect(ws2.offsets(channel)).toEqual([8]));
    ws2.close();
  });
});

/** The body of a chunked HTTP/1.1 response so far (whole chunks only); throws on a malformed chunk. */
function dechunk(chunked: string): string {
  let body = '';
  let at = 0;
  for (;;) {
    const eol = chunked.indexOf('\r\n', at);
    if (eol < 0) return body;
    const size = chunked.slice(at, eol);
    if (!/^[0-9a-f]+$/i.test(size)) throw new Error(`bad chunk size ${JSON.stringify(size)}`);
    const length = parseInt(size, 16);
    const end = eol + 2 + length;
    if (chunked.length < end + 2) return body;
    if (chunked.slice(end, end + 2) !== '\r\n') throw new Error('chunk not followed by CRLF');
    body += Buffer.from(chunked.slice(eol + 2, end), 'latin1').toString('utf8');
    at = end + 2;
  }
}
