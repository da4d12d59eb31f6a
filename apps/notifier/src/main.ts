import './node-guard';
import 'reflect-metadata';
import { runMain } from '@switchboard/platform';
import { runDlqCommand } from './cli/dlq.command';
import { runEndpointsCommand } from './cli/endpoints.command';
import { notifierDefinition } from './notifier.definition';

// `main.js dlq …` is the dead-letter command (`npm run dlq -- list`), `main.js endpoints …` the
// outbound endpoints command (`npm run endpoints -- list`); anything else runs the service.
const commands: Record<string, (args: readonly string[]) => Promise<number>> = { dlq: runDlqCommand, endpoints: runEndpointsCommand };
const name = process.argv[2] ?? '';
const command = Object.hasOwn(commands, name) ? commands[name] : undefined;
if (command !== undefined) {
  command(process.argv.slice(3)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      process.stderr.write(`${name}: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    },
  );
} else {
  runMain(notifierDefinition);
}
