import { deliveryQueueConformance } from './delivery-queue.conformance';
import { MemoryDeliveryQueue } from './memory-delivery.queue';

deliveryQueueConformance('memory', async () => {
  const queue = new MemoryDeliveryQueue();
  return { queue, dispose: async () => queue.close() };
});
