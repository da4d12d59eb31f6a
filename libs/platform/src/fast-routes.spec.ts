import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveAheadOfExpress } from './fast-routes';

/** Answers `name` as the body, so a test sees which listener took the request. */
const answer = (name: string) => (_req: IncomingMessage, res: ServerResponse) => {
  res.end(name);
  return Promise.resolve();
};

describe('serveAheadOfExpress', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    // The "Express" listener, there before the fast routes are added.
    server = createServer((_req, res) => res.end('express'));
    // The gateway's call (read methods by default), then the notifier's (POST), chained on one server.
    serveAheadOfExpress(server, { '/v1/poll': answer('poll') }, () => undefined);
    serveAheadOfExpress(server, { '/v1/publish': answer('publish') }, () => undefined, ['POST']);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const taker = async (method: string, path: string): Promise<string> => (await fetch(url + path, { method })).text();

  it('takes only its exact paths with its methods, query ignored; everything else reaches the listeners already there', async () => {
    expect(await taker('POST', '/v1/publish')).toBe('publish');
    expect(await taker('POST', '/v1/publish?x=1')).toBe('publish');
    expect(await taker('GET', '/v1/poll?cursor=a')).toBe('poll');
    expect(await taker('OPTIONS', '/v1/poll')).toBe('poll');
    // Other methods, other spellings and other paths go on to Express.
    expect(await taker('GET', '/v1/publish')).toBe('express');
    expect(await taker('POST', '/v1/publish/')).toBe('express');
    expect(await taker('POST', '/v1/poll')).toBe('express');
    expect(await taker('GET', '/v1/other')).toBe('express');
  });
});
