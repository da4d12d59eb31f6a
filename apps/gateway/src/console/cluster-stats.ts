import { Inject, Injectable, OnModuleDestroy } from '@nestjs/common';
import type { GatewayConfig } from '@switchboard/config';
import { PLATFORM, type Platform } from '@switchboard/platform';
import { ClusterView, type PodView } from './cluster-view';
import type { StatsBus } from './gateway-stats';
import { STATS_BUS } from './stats-publisher';

/** The console's server side of the cluster view: listens to every gateway's stats on the bus. */
@Injectable()
export class ClusterStats implements OnModuleDestroy {
  private readonly cluster: ClusterView;
  private readonly stop: () => void;

  constructor(
    @Inject(PLATFORM) platform: Platform<GatewayConfig>,
    @Inject(STATS_BUS) private readonly bus: StatsBus,
  ) {
    this.cluster = new ClusterView(platform.config.STATS_INTERVAL_SECONDS * 1000);
    // Listening from construction, so this process's first sample (sent at bootstrap) is seen.
    this.stop = this.bus.listen((stats) => this.cluster.add(stats));
  }

  onModuleDestroy(): void {
    this.stop();
  }

  view(): PodView[] {
    return this.cluster.view();
  }
}
