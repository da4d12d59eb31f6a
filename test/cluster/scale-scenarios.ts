import type { GatewayConfig } from '@switchboard/config';
import { notifierDefinition } from '@switchboard/notifier';
import { RunningService, startService } from '@switchboard/platform';
import { eventually, isolatedEnv, signToken, TEST_JWT_SECRET, uniqueName, WsTestClient } from '@switchboard/testing';
import { webhookIngestDefinition } from '@switchboard/webhook-ingest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io } from 'socket.io-client';
import { SocketIoGateway } from '../../apps/gateway/src/transports/socketio/socketio.gateway';
import { startGateway, wsUrl } from '../support/gateway';
import { decodeCursorJson, SseTestClient } from '../support/sse';

/** Where the services under test find NATS and Redis: env variables, and how to stop them. */
export interface ScaleBackends {
  /** NATS_URL, NATS_STREAM_REPLICAS and the Redis variables. */
  env: Record<string, string>;
  /** Socket.IO adapter class expected on this Redis. */
  adapter: 'RedisAdapter' | 'ShardedRedisAdapter';
  stop(): Promise<void>;
}

/**
 * The cluster tests SPEC "Scaling out" asks for, on the backends `start` brings up once
 * for the file: fan-out across three gateways, resume on another gateway, stateless
 * long-poll across gateways, Socket.IO's adapter, and webhook → notifier → SSE.
 */
export function describeScaleOut(title: string, start: () => Promise<ScaleBackends>): void {
  describe(title, () => {
    let backends: ScaleBackends;
    let env: Record<string, string>;
    const gateways: Array<RunningService<GatewayConfig>> = [];
    let token: string;

    beforeAll(async () => {
      backends = await start();
      const names: Record<string, string> = { ...isolatedEnv('scale') };
      delete names.REDIS_URL;
      env = { ...names, ...backends.env, LOG_LEVEL: 'error', JWT_SECRET: TEST_JWT_SECRET, CLIENT_PUBLISH_RATE: '100000' };
      for (let i = 0; i < 3; i++) gateways.push(await startGateway({ ...env, INSTANCE_NAME: `gw${i}` }));
      token = await signToken({ sub: 'scale', channels: ['*'], publish: ['*'] });
    }, 90_000);
    afterAll(async () => {
      await Promise.allSettled(gateways.map((g) => g.stop()));
      await backends?.stop();
    });

    it('fans out across three gateways: every client on every gateway gets every message of channels on every shard, once, in order', async () => {
      // 24 channels: their hash slots spread over all three Redis masters.
      const channels = Array.from({ length: 24 }, (_, i) => `sc:${uniqueName('fan')}.${i}`);
      const clients = await Promise.all(gateways.map((g) => WsTestClient.connect(wsUrl(g, token))));
      for (const c of clients) for (const channel of channels) await c.request('subscribe', { channel });
      const publisher = await WsTestClient.connect(wsUrl(gateways[1], token));
      for (let n = 1; n <= 5; n++) {
        for (const channel of channels)
          expect(await publisher.request('publish', { channel, data: n })).toMatchObject({ op: 'ack', offset: n });
      }
      const expected = [1, 2, 3, 4, 5];
      await eventually(() => {
        for (const c of clients) for (const channel of channels) expect(c.offsets(channel)).toEqual(expected);
      }, 15_000);
      [...clients, publisher].forEach((c) => c.close());
    });

    it('resumes on another gateway while messages keep coming: none missed, none twice', async () => {
      const channel = `sc:${uniqueName('move')}`;
      const publisher = await WsTestClient.connect(wsUrl(gateways[2], token));
      const publishing = publisher.publishUntilStopped(channel);
      const first = await WsTestClient.connect(wsUrl(gateways[0], token));
      await first.request('subscribe', { channel });
      await eventually(() => expect(first.messages(channel).length).toBeGreaterThan(10));
      first.close();
      const last = first.messages(channel).at(-1)!;
      const second = await WsTestClient.connect(wsUrl(gateways[1], token));
      expect(await second.request('subscribe', { channel, since: { offset: last.offset, epoch: last.epoch } })).toMatchObject({
        recovered: true,
      });
      await eventually(() => expect(second.messages(channel).length).toBeGreaterThan(10));
      const sent = await publishing.stop();
      await eventually(() => expect(second.offsets(channel).at(-1)).toBe(sent));
      const all = [...first.offsets(channel), ...second.offsets(channel)];
      expect(all).toEqual(Array.from({ length: all.length }, (_, i) => all[0] + i));
      publisher.close();
      second.close();
    });

    it('serves long-polls round-robin over the gateways without stickiness: nothing lost or duplicated', async () => {
      const channel = `sc:${uniqueName('poll')}`;
      const auth = { headers: { Authorization: `Bearer ${token}` } };
      const publisher = await WsTestClient.connect(wsUrl(gateways[0], token));
      const startAnswer = (await fetch(`${gateways[0].url}/v1/poll?channel=${channel}`, auth).then((r) => r.json())) as { cursor: string };
      let cursor = startAnswer.cursor;
      const received: number[] = [];
      let published = 0;
      for (let round = 0; round < 9; round++) {
        for (let i = 0; i < 3; i++) await publisher.request('publish', { channel, data: ++published });
        const res = (await fetch(`${gateways[round % 3].url}/v1/poll?channel=${channel}&cursor=${cursor}&timeout=5`, auth).then((r) =>
          r.json(),
        )) as { messages: Array<{ offset: number }>; cursor: string; lost?: string[] };
        expect(res.lost).toBeUndefined();
        received.push(...res.messages.map((m) => m.offset));
        cursor = res.cursor;
      }
      await eventually(async () => {
        const res = (await fetch(`${gateways[1].url}/v1/poll?channel=${channel}&cursor=${cursor}&timeout=0`, auth).then((r) =>
          r.json(),
        )) as {
          messages: Array<{ offset: number }>;
          cursor: string;
        };
        received.push(...res.messages.map((m) => m.offset));
        cursor = res.cursor;
        expect(received.length).toBe(published);
      });
      expect(received).toEqual(Array.from({ length: published }, (_, i) => i + 1));
      expect(decodeCursorJson(cursor)[channel][0]).toBe(published);
      publisher.close();
    });

    it("runs Socket.IO's cluster-wide operations through the adapter for this Redis, and delivers to Socket.IO clients", async () => {
      const channel = `sc:${uniqueName('sio')}`;
      const sockets = gateways.map((gw) =>
        io(gw.url, { path: '/socket.io', auth: { token }, transports: ['websocket'], reconnection: false, forceNew: true }),
      );
      await Promise.all(
        sockets.map((s) => new Promise<void>((resolve, reject) => s.once('connect', resolve).once('connect_error', reject))),
      );
      const server = gateways[0].app.get(SocketIoGateway).server;
      expect(server.of('/').adapter.constructor.name).toBe(backends.adapter);
      // Gateway 0 sees the sockets connected to the other two.
      await eventually(async () => expect((await server.fetchSockets()).length).toBe(3), 15_000);
      const got = sockets.map(() => [] as number[]);
      sockets.forEach((s, i) =>
        s.on('message', (m: { channel: string; offset: number }) => m.channel === channel && got[i].push(m.offset)),
      );
      await Promise.all(sockets.map((s) => s.timeout(5000).emitWithAck('subscribe', { channel })));
      const publisher = await WsTestClient.connect(wsUrl(gateways[2], token));
      for (let n = 1; n <= 3; n++) await publisher.request('publish', { channel, data: n });
      await eventually(
        () =>
          expect(got).toEqual([
            [1, 2, 3],
            [1, 2, 3],
            [1, 2, 3],
          ]),
        10_000,
      );
      sockets.forEach((s) => s.disconnect());
      publisher.close();
    });

    it('drains a fourth gateway: its client is told to reconnect (1012) and resumes on another with nothing missed', async () => {
      const channel = `sc:${uniqueName('drain')}`;
      const extra = await startGateway({ ...env, INSTANCE_NAME: 'gw-drain', DRAIN_SECONDS: '1' });
      const publisher = await WsTestClient.connect(wsUrl(gateways[0], token));
      const onExtra = await WsTestClient.connect(wsUrl(extra, token));
      await onExtra.request('subscribe', { channel });
      for (let n = 1; n <= 5; n++) await publisher.request('publish', { channel, data: n });
      await eventually(() => expect(onExtra.offsets(channel)).toEqual([1, 2, 3, 4, 5]));
      const stopping = extra.stop();
      expect(await onExtra.waitClosed(10_000)).toBe(1012);
      for (let n = 6; n <= 10; n++) await publisher.request('publish', { channel, data: n });
      await stopping;
      const last = onExtra.messages(channel).at(-1)!;
      const moved = await WsTestClient.connect(wsUrl(gateways[1], token));
      expect(await moved.request('subscribe', { channel, since: { offset: last.offset, epoch: last.epoch } })).toMatchObject({
        recovered: true,
      });
      await eventually(() => expect(moved.offsets(channel)).toEqual([6, 7, 8, 9, 10]));
      publisher.close();
      moved.close();
    }, 30_000);

    it('carries a signed webhook through webhook-ingest → EVENTS (replicated) → notifier → an SSE client on another gateway, once', async () => {
      const { sign } = await import('@octokit/webhooks-methods');
      const dir = mkdtempSync(join(tmpdir(), 'sb-scale-'));
      const routes = join(dir, 'routes.yaml');
      writeFileSync(
        routes,
        'routes:\n  - match: { type: "github.push", source: "webhook/gh" }\n    channels: ["repo:{data.repository.full_name}"]\n',
      );
      const secret = 'scale-secret';
      const serviceEnv = {
        ...env,
        ROUTES_CONFIG: routes,
        WEBHOOK_SOURCES: JSON.stringify([{ name: 'gh', provider: 'github', secrets: [secret] }]),
        PORT: '0',
        HOST: '127.0.0.1',
      };
      const ingest = await startService(webhookIngestDefinition, serviceEnv);
      const notifier = await startService(notifierDefinition, serviceEnv);
      try {
        const repo = uniqueName('acme').replace(/[^A-Za-z0-9_-]/g, '');
        const channel = `repo:${repo}/api`;
        const sse = new SseTestClient(`${gateways[2].url}/v1/sse?channel=${encodeURIComponent(channel)}`, { token });
        await sse.opened();
        const body = JSON.stringify({ ref: 'refs/heads/main', repository: { full_name: `${repo}/api` } });
        const post = async (): Promise<number> =>
          (
            await fetch(`${ingest.url}/v1/webhooks/gh`, {
              method: 'POST',
              headers: {
                'Content-Type': 'application/json',
                'X-GitHub-Event': 'push',
                'X-GitHub-Delivery': uniqueName('d'),
                'X-Hub-Signature-256': await sign(secret, body),
              },
              body,
            })
          ).status;
        expect(await post()).toBe(202);
        await eventually(() => expect(sse.messages()).toHaveLength(1), 15_000);
        expect(sse.messages()[0]).toMatchObject({ channel, offset: 1, type: 'github.push', data: { ref: 'refs/heads/main' } });
        // The streams the services made carry NATS_STREAM_REPLICAS copies.
        const jsm = await (await import('@nats-io/jetstream')).jetstreamManager(ingest.platform.runtime.nats!);
        for (const stream of [env.EVENTS_STREAM, env.DLQ_STREAM, env.OUTBOUND_STREAM, `KV_${env.OUTBOUND_ENDPOINTS_BUCKET}`]) {
          expect({ stream, replicas: (await jsm.streams.info(stream)).config.num_replicas }).toEqual({ stream, replicas: 3 });
        }
        await new Promise((r) => setTimeout(r, 300));
        expect(sse.messages()).toHaveLength(1);
        sse.close();
      } finally {
        await Promise.allSettled([ingest.stop(), notifier.stop()]);
        rmSync(dir, { recursive: true, force: true });
      }
    }, 60_000);
  });
}
