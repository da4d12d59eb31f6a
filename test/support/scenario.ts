import { eventually, signToken, uniqueName } from '@switchboard/testing';
import { TestCluster, TestPublisher } from './cluster';
import { Ledger, LedgerClient } from './ledger-client';

/** What a scenario needs of a deployment: the gateways' URLs and the store's truth. */
export interface ScenarioCluster {
  wsUrls(): string[];
  position(channel: string): Promise<{ epoch: string; offset: number }>;
}

export interface ScenarioOptions<C extends ScenarioCluster = TestCluster> {
  name: string;
  /** How long messages are published. */
  streamMs: number;
  channels?: number;
  clients?: number;
  /** Publish interval per round over all channels. */
  intervalMs?: number;
  /** The fault, run `faultAtMs` into the stream. */
  faultAtMs: number;
  /** `channels`: the scenario's channel names (to aim a fault at one of them). */
  fault(cluster: C, channels: readonly string[]): Promise<void>;
  /** Client URLs (default: every running gateway). */
  urls?(cluster: C): string[];
}

export interface ScenarioReport {
  scenario: string;
  published: number;
  checked: number;
  reconnects: number;
  notices: number;
  /** Publishes acknowledged while the fault ran (so it struck a live stream). */
  publishedDuringFault: number;
  problems: string[];
  /** Acknowledged publishes a client never got: told (recovered:false) or not. */
  lostAnnounced: number;
  lostSilently: number;
  duplicates: number;
}

/**
 * Runs one fault scenario on a cluster: clients subscribe every channel, a publisher
 * streams, the fault strikes, and the ledger is checked against the store's final offsets.
 */
export async function runScenario<C extends ScenarioCluster = TestCluster>(cluster: C, o: ScenarioOptions<C>): Promise<ScenarioReport> {
  const token = await signToken({ sub: 'ledger', channels: ['*'], publish: ['*'] });
  const channels = Array.from({ length: o.channels ?? 3 }, (_, i) => `rel:${uniqueName(o.name)}.${i}`);
  const urls = o.urls ?? ((c: C) => c.wsUrls());
  const ledger = new Ledger();
  for (let i = 0; i < (o.clients ?? 6); i++) {
    const client = new LedgerClient(`client${i}`, () => urls(cluster), token, channels);
    ledger.add(client);
    client.start();
  }
  await eventually(() => {
    if (!ledger.clients.every((c) => c.connected)) throw new Error('clients connecting');
  }, 10000);
  const publisher = new TestPublisher(() => cluster.wsUrls(), token, channels, o.intervalMs ?? 20);
  // `npm run soak` moves the fault to a random point of the stream each round.
  const faultAtMs = process.env.SOAK_ROUND !== undefined ? Math.round(o.streamMs * (0.15 + Math.random() * 0.45)) : o.faultAtMs;
  await new Promise((r) => setTimeout(r, faultAtMs));
  const ackedBeforeFault = publisher.acked;
  await o.fault(cluster, channels);
  const publishedDuringFault = publisher.acked - ackedBeforeFault;
  await new Promise((r) => setTimeout(r, Math.max(0, o.streamMs - faultAtMs)));
  await publisher.stop();
  const finals = new Map<string, { epoch: string; offset: number }>();
  for (const c of channels) finals.set(c, await cluster.position(c));
  let problems: string[] = [];
  try {
    await eventually(
      () => {
        problems = ledger.verify(finals);
        if (problems.length > 0) throw new Error(problems.slice(0, 5).join('\n'));
      },
      20000,
      200,
    );
  } catch {
    // Reported below with the figures.
  }
  for (const c of ledger.clients) c.stop();
  const content = ledger.contentCheck(publisher.ackedByChannel);
  if (content.silent > 0)
    problems.push(`${content.silent} acknowledged messages never delivered without a notice: ${content.silentDetail.join('; ')}`);
  if (content.duplicates > 0) problems.push(`${content.duplicates} messages delivered twice`);
  const report: ScenarioReport = {
    scenario: o.name,
    published: publisher.acked,
    checked: ledger.delivered,
    reconnects: ledger.clients.reduce((n, c) => n + c.reconnects, 0),
    notices: ledger.clients.reduce((n, c) => n + c.notices.length, 0),
    publishedDuringFault,
    problems,
    lostAnnounced: content.announced,
    lostSilently: content.silent,
    duplicates: content.duplicates,
  };
  // The figures docs/RELIABILITY.md quotes.
  console.log(
    `[reliability] ${report.scenario}: published ${report.published}, messages checked ${report.checked}, ` +
      `reconnects ${report.reconnects}, recovered:false notices ${report.notices}, published during the fault ${report.publishedDuringFault}, ` +
      `lost ${report.lostSilently} silently / ${report.lostAnnounced} announced, duplicates ${report.duplicates}, problems ${report.problems.length}`,
  );
  return report;
}
