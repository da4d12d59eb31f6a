import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const root = join(__dirname, '..');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string> };

/** Dependencies whose pinning matters to the running server. */
describe('dependencies', () => {
  it('take socket.io patch releases (a caret range), and Nest’s Socket.IO adapter uses that same copy', () => {
    // An exact pin keeps engine.io fixes (which ship in socket.io patch releases) out.
    expect(pkg.dependencies['socket.io']).toMatch(/^\^4\.\d+\.\d+$/);
    // The adapter creates the server from the socket.io it resolves: a second copy would
    // leave the version above unused.
    const ours = require.resolve('socket.io/package.json', { paths: [root] });
    const nests = require.resolve('socket.io/package.json', {
      paths: [dirname(require.resolve('@nestjs/platform-socket.io', { paths: [root] }))],
    });
    expect(nests).toBe(ours);
  });
});
