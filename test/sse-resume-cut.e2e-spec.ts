import type { ChannelEngine } from '@switchboard/engine';
import { RunningService } from '@switchboard/platform';
import { cleanupIsolatedEnv, isolatedEnv, requireSharedServers, signToken, uniqueName } from '@switchboard/testing';
import { startGateway } from './support/gateway';
import { cursorOf, interpretEventStream } from './support/sse';

/**
 * An `EventSource` cut off at any byte of a resumed stream reconnects with the last event id
 * it committed; the reconnect must bring every message it had not dispatched, and none it had.
 */
describe.each([
  ['memory engine', false],
  ['NATS + Redis', true],
])('SSE resume survives a cut at every byte (%s)', (_name, real) => {
  let gw: RunningService;
  let engine: ChannelEngine;
  let env: Record<string, string> = {};
  let token: string;

  beforeAll(async () => {
    if (real) {
      const { natsUrl, redisUrl } = await requireSharedServers();
      env = isolatedEnv('gw', { natsUrl: natsUrl, redisUrl: redisUrl });
    }
    gw = await startGateway(env);
    engine = gw.platform.runtime.engine;
    token = await signToken({ channels: ['*'] });
  });
  afterAll(async () => {
    await gw?.stop();
    if (real) await cleanupIsolatedEnv(env);
  });

  /** The stream's bytes until `expected` messages arrived (the resume backlog and the start). */
  async function streamText(query: string, lastEventId: string | undefined, expected: number): Promise<string> {
    const headers: Record<string, string> = { Authorization: `Bearer ${token}` };
    if (lastEventId !== undefined && lastEventId !== '') headers['Last-Event-ID'] = lastEventId;
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/v1/sse?${query}`, { headers, signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const deadline = Date.now() + 5000;
    while (interpretEventStream(text).events.filter((e) => e.type === 'message').length < expected && Date.now() < deadline) {
      const timer = setTimeout(() => controller.abort(), Math.max(1, deadline - Date.now()));
      const chunk = await reader.read().catch(() => ({ done: true, value: undefined }));
      clearTimeout(timer);
      if (chunk.done) break;
      text += decoder.decode(chunk.value, { stream: true });
    }
    controller.abort();
    return text;
  }

  const offsetsOf = (text: string, channel: string): number[] =>
    interpretEventStream(text)
      .events.filter((e) => e.type === 'message')
      .map((e) => JSON.parse(e.data) as { channel: string; offset: number })
      .filter((m) => m.channel === channel)
      .map((m) => m.offset);

  it.each([
    ['one channel resumed at offset 3 of 6', 1],
    ['a resumed channel and a fresh one', 2],
  ])('%s: the union of what was dispatched before the cut and what the reconnect brings is exactly the rest', async (_label, channels) => {
    const resumed = `cut:${uniqueName('a')}`;
    const fresh = `cut:${uniqueName('b')}`;
    let epoch = '';
    for (let i = 1; i <= 6; i++) epoch = (await engine.publish({ channel: resumed, data: { i } })).epoch;
    const query = channels === 1 ? `channel=${resumed}` : `channel=${resumed}&channel=${fresh}`;
    const resumeFrom = cursorOf({ [resumed]: [3, epoch] });
    const full = await streamText(query, resumeFrom, 3);
    expect(offsetsOf(full, resumed)).toEqual([4, 5, 6]);
    // The opening id is the resume point itself: a cut right after it must bring 4, 5, 6 again.
    const reconnects = new Map<string, string>();
    for (let cut = 0; cut <= full.length; cut++) {
      const seen = interpretEventStream(full.slice(0, cut));
      const before = seen.events.filter((e) => e.type === 'message').map((e) => (JSON.parse(e.data) as { offset: number }).offset);
      // A browser that never committed an id reconnects with the one it started from.
      const id = seen.lastEventId === '' ? resumeFrom : seen.lastEventId;
      let after = reconnects.get(id);
      if (after === undefined) {
        after = await streamText(query, id, 3 - before.length);
        reconnects.set(id, after);
      }
      expect({ cut, offsets: [...before, ...offsetsOf(after, resumed)] }).toEqual({ cut, offsets: [4, 5, 6] });
    }
    // The ids that occur are the opening one and one per message: each reconnect was tried.
    expect(reconnects.size).toBeGreaterThanOrEqual(4);
  });
});
