// First import of main.ts: the modules after it may need Node 24 already when they load.
import { exitOnUnsupportedNode } from '@switchboard/platform/node-version';

exitOnUnsupportedNode('notifier');
