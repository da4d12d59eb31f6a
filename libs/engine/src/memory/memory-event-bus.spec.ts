import { describeEventBusConformance } from '../event-bus.conformance';
import { EventBus, EventBusNames } from '../event-bus';
import { MemoryEventBus } from './memory-event-bus';

const retention = { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 };

describeEventBusConformance('memory', async () => {
  // One bus per names: "processes" of the single process share it.
  const buses = new Map<string, MemoryEventBus>();
  return {
    createBus: (names: EventBusNames): Promise<EventBus> => {
      let bus = buses.get(names.eventsStream);
      if (bus === undefined) {
        bus = new MemoryEventBus(retention, names);
        buses.set(names.eventsStream, bus);
      }
      return Promise.resolve(bus);
    },
    close: async () => {
      for (const bus of buses.values()) await bus.close();
    },
  };
});
