import { TestCluster } from '../support/cluster';
import { runScenario } from '../support/scenario';

/** Gateway crashes and rolling restarts: clients move to the other gateway and resume. */
describe('reliability: gateway faults', () => {
  let cluster: TestCluster | undefined;
  afterEach(async () => {
    await cluster?.stop();
    cluster = undefined;
  });

  it('one gateway SIGKILLed: its clients reconnect to the other and resume without loss or duplicate', async () => {
    cluster = await TestCluster.start(2);
    const report = await runScenario(cluster, {
      name: 'gateway-sigkill',
      streamMs: 10_000,
      faultAtMs: 3_000,
      fault: (c) => c.killGateway(0, 'SIGKILL'),
    });
    expect(report.problems).toEqual([]);
    expect(report.reconnects).toBeGreaterThan(0);
  }, 60_000);

  it('rolling restart of both gateways with SIGTERM drain: nothing lost, nothing twice', async () => {
    cluster = await TestCluster.start(2);
    const report = await runScenario(cluster, {
      name: 'rolling-restart',
      streamMs: 16_000,
      faultAtMs: 2_000,
      fault: async (c) => {
        for (const i of [0, 1]) {
          await c.killGateway(i, 'SIGTERM');
          await c.startGateway(i);
        }
      },
    });
    expect(report.problems).toEqual([]);
    expect(report.reconnects).toBeGreaterThan(0);
  }, 60_000);
});
