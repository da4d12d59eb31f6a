import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { eventually, requireSharedServers } from '@switchboard/testing';
import { ServiceProcess } from '../support/process';
import { cleanUp, webhookEnv, webhookTestNames } from '../support/webhook-harness';

/**
 * webhook-ingest SIGKILLed with requests in flight: the provider retries what got no 2xx,
 * and every delivery ends up stored exactly once (JetStream's message id + the Redis key).
 */
describe('reliability: webhook-ingest killed mid-request', () => {
  const names = webhookTestNames('ingest-crash');
  const secret = 'crash-secret';
  const running: ServiceProcess[] = [];
  afterAll(async () => {
    running.forEach((p) => p.kill());
    await cleanUp(names);
  });

  it('stores each retried delivery once', async () => {
    await requireSharedServers();
    const { sign } = await import('@octokit/webhooks-methods');
    const env = webhookEnv(names, [{ name: 'gh', provider: 'github', secrets: [secret], rateLimit: false }]) as Record<string, string>;
    delete env.PORT;
    delete env.HOST;
    let ingest = await ServiceProcess.start('webhook-ingest', env);
    running.push(ingest);
    const deliveries = Array.from({ length: 200 }, (_, i) => ({
      id: `delivery-${i}`,
      body: JSON.stringify({ action: 'opened', n: i, pad: 'x'.repeat(2000) }),
    }));
    const signatures = await Promise.all(deliveries.map((d) => sign(secret, d.body)));
    const send = (url: string, i: number): Promise<number> =>
      fetch(`${url}/v1/webhooks/gh`, {
        method: 'POST',
        headers: {
          'Content-Type': 'application/json',
          'X-GitHub-Event': 'issues',
          'X-GitHub-Delivery': deliveries[i].id,
          'X-Hub-Signature-256': signatures[i],
        },
        body: deliveries[i].body,
      }).then(
        (r) => r.status,
        () => 0,
      );
    // All at once; the process dies while they are in flight, once some were answered.
    let answered = 0;
    const first = Promise.all(
      deliveries.map((_, i) =>
        send(ingest.url, i).then((s) => {
          answered++;
          return s;
        }),
      ),
    );
    await eventually(() => expect(answered).toBeGreaterThanOrEqual(20), 10000, 1);
    ingest.kill('SIGKILL');
    const statuses = await first;
    const unanswered = statuses.map((s, i) => (s >= 200 && s < 300 ? -1 : i)).filter((i) => i >= 0);
    console.log(`[reliability] ingest-crash: ${200 - unanswered.length} answered 2xx before the kill, ${unanswered.length} retried`);
    // The provider retries what it did not see accepted, against the restarted service.
    ingest = await ServiceProcess.start('webhook-ingest', env);
    running.push(ingest);
    for (const i of unanswered) expect([200, 202]).toContain(await send(ingest.url, i));
    // Stored exactly once each.
    const nc = await connect({ servers: env.NATS_URL });
    try {
      const info = await (await jetstreamManager(nc)).streams.info(names.eventsStream);
      expect(info.state.messages).toBe(200);
      const consumer = await jetstream(nc).consumers.get(names.eventsStream);
      const ids = new Set<string>();
      const batch = await consumer.fetch({ max_messages: 200, expires: 5000 });
      for await (const m of batch) {
        ids.add(m.json<{ id: string }>().id);
        if (ids.size === 200) break;
      }
      await eventually(() => expect(ids.size).toBe(200));
    } finally {
      await nc.close();
    }
  }, 60_000);
});
