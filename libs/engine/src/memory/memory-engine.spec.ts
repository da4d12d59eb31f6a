import { messageJsonParts, RetentionOptions } from '../channel-store';
import { Engine } from '../engine';
import { describeEngineConformance, EngineHarness } from '../engine.conformance';
import { BusListener, FanoutBus } from '../fanout-bus';
import { StoredMessage } from '../stored-message';
import { MemoryChannelStore } from './memory-channel-store';
import { MemoryFanoutBus } from './memory-fanout-bus';

/** One pod's view of the shared in-process bus, counting its own interest. */
class PodBus implements FanoutBus {
  count = 0;
  constructor(private readonly shared: MemoryFanoutBus) {}
  announce(m: StoredMessage): void {
    this.shared.announce(m);
  }
  async listen(channel: string, fn: (m: StoredMessage) => void): Promise<BusListener> {
    const inner = await this.shared.listen(channel, fn);
    this.count++;
    let open = true;
    return {
      close: () => {
        if (open) this.count--;
        open = false;
        inner.close();
      },
    };
  }
  onResumed(): void {}
  listenerCount(): number {
    return this.count;
  }
  isReady(): boolean {
    return true;
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

async function memoryHarness(retention: RetentionOptions): Promise<EngineHarness> {
  const store = new MemoryChannelStore(retention);
  const shared = new MemoryFanoutBus();
  const buses = new Map<Engine, PodBus>();
  const engines: Engine[] = [];
  return {
    createEngine: (options) => {
      const bus = new PodBus(shared);
      const engine = new Engine(store, bus, options);
      buses.set(engine, bus);
      engines.push(engine);
      return Promise.resolve(engine);
    },
    dropChannel: (channel) => {
      store.forget(channel);
      return Promise.resolve();
    },
    storeOnly: async (_engine, channel, data) => {
      const { result } = await store.publish({ channel, data }, messageJsonParts({ channel, data }, Date.now()), Date.now());
      return result.offset;
    },
    busSubscriptions: (engine) => buses.get(engine)!.listenerCount(),
    close: async () => {
      // Engines share the store: close their feeds, then the store once.
      await Promise.all(engines.map((e) => e.close()));
      await store.close();
    },
  };
}

describeEngineConformance('memory', memoryHarness);
