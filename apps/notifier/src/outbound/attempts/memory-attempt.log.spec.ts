import { attemptLogConformance } from './attempt-log.conformance';
import { MemoryAttemptLog } from './memory-attempt.log';

attemptLogConformance('memory', async (maxAgeMs, maxPerStatus) => ({
  log: new MemoryAttemptLog(maxAgeMs, maxPerStatus),
  dispose: async () => undefined,
}));
