/** The oldest Node.js major the services support (package.json `engines`). */
export const MIN_NODE_MAJOR = 24;

/**
 * Why this Node.js cannot run a service, in one line, or undefined when it can. A machine's
 * own `node` is often older than the project's: npm scripts run Node 24 from the `node`
 * devDependency (node_modules/.bin), a bare `node dist/…` runs whatever is on PATH.
 */
export function unsupportedNodeMessage(version: string = process.versions.node, execPath: string = process.execPath): string | undefined {
  const major = Number(version.split('.')[0]);
  if (Number.isInteger(major) && major >= MIN_NODE_MAJOR) return undefined;
  return (
    `Node.js ${MIN_NODE_MAJOR} or newer is required; this is v${version} (${execPath}). ` +
    `Start it with npm (npm start, npm run start:gateway, …: they use Node ${MIN_NODE_MAJOR} from node_modules) ` +
    `or run node_modules/.bin/node dist/apps/<service>/main.js`
  );
}

/**
 * Ends the process with that one line when this Node.js cannot run `service`. Each `main.ts`
 * calls it from its first import (`./node-guard`): later imports may already need Node 24.
 */
export function exitOnUnsupportedNode(service: string): void {
  const problem = unsupportedNodeMessage();
  if (problem === undefined) return;
  process.stderr.write(`${service}: ${problem}\n`);
  process.exit(1);
}
