import 'reflect-metadata';
import { runMain } from '@switchboard/platform';
import { runDlqCommand } from './cli/dlq.command';
import { notifierDefinition } from './notifier.definition';

// `main.js dlq …` is the dead-letter command (`npm run dlq -- list`); anything else runs the service.
if (process.argv[2] === 'dlq') {
  runDlqCommand(process.argv.slice(3)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`dlq: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  runMain(notifierDefinition);
}
