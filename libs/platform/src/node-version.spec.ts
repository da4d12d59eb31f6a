import { MIN_NODE_MAJOR, unsupportedNodeMessage } from './node-version';

describe('unsupportedNodeMessage', () => {
  it('accepts the supported majors', () => {
    expect(unsupportedNodeMessage(`${MIN_NODE_MAJOR}.0.0`)).toBeUndefined();
    expect(unsupportedNodeMessage('26.1.0')).toBeUndefined();
    expect(unsupportedNodeMessage()).toBeUndefined();
  });

  it('refuses an older Node in one line saying which one runs and how to use the project’s', () => {
    const message = unsupportedNodeMessage('20.20.2', '/usr/bin/node');
    expect(message).toMatch(
      /^Node\.js 24 or newer is required; this is v20\.20\.2 \(\/usr\/bin\/node\)\. .*npm run start:gateway.*node_modules\/\.bin\/node/,
    );
    expect(message).not.toContain('\n');
  });
});
