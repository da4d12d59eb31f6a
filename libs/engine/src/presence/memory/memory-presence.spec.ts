import { MemoryEventBus } from '../../memory/memory-event-bus';
import { describePresenceConformance, PresenceHarness, readStream } from '../presence.conformance';
import { MemoryPresenceSignalBus } from './memory-presence-signal-bus';
import { MemoryPresenceStore } from './memory-presence-store';

async function memoryHarness(): Promise<PresenceHarness> {
  // One process: every "gateway" shares the store, the signal bus and the event bus.
  const store = new MemoryPresenceStore();
  const signals = new MemoryPresenceSignalBus();
  const eventBus = new MemoryEventBus(
    { eventsMaxAgeSeconds: 3600, duplicateWindowSeconds: 120, dlqMaxAgeSeconds: 3600 },
    { eventsStream: 'EVENTS', eventsSubjectPrefix: 'events', dlqStream: 'EVENTS_DLQ', dlqSubjectPrefix: 'dlq.events' },
  );
  await eventBus.ensureStreams();
  return {
    createStore: () => Promise.resolve(store),
    createSignals: () => Promise.resolve(signals),
    eventBus,
    events: () => readStream(eventBus, 'EVENTS'),
    close: async () => {
      await eventBus.close();
      await signals.close();
    },
  };
}

describePresenceConformance('memory', memoryHarness);
