import { endpointStoreConformance } from './endpoint-store.conformance';
import { MemoryEndpointStore } from './memory-endpoint.store';

endpointStoreConformance('memory', async () => ({ store: new MemoryEndpointStore(), dispose: async () => undefined }));
