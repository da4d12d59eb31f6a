import { createHash, createHmac } from 'node:crypto';
import PusherServer from 'pusher';
import { apiSignatureProblem, channelAuthValid } from './pusher-signing';
import { pusherData, pusherEventName, switchboardData } from './pusher-protocol';

const app = { id: '1', key: 'key', secret: 'secret-0123456789', clientEvents: false, webhooks: [] };
const official = new PusherServer({ appId: app.id, key: app.key, secret: app.secret, host: '127.0.0.1' });

describe('Pusher channel auth', () => {
  it('accepts what the official library signs, for private and presence channels', () => {
    const priv = official.authorizeChannel('1.2', 'private-a');
    expect(channelAuthValid(app, '1.2', 'private-a', priv.auth)).toBe(true);
    const pres = official.authorizeChannel('1.2', 'presence-a', { user_id: 'u', user_info: { n: 1 } });
    expect(channelAuthValid(app, '1.2', 'presence-a', pres.auth, pres.channel_data)).toBe(true);
  });

  it('refuses another socket, channel, key, channel_data or a malformed value', () => {
    const priv = official.authorizeChannel('1.2', 'private-a');
    expect(channelAuthValid(app, '1.3', 'private-a', priv.auth)).toBe(false);
    expect(channelAuthValid(app, '1.2', 'private-b', priv.auth)).toBe(false);
    expect(channelAuthValid({ ...app, key: 'other' }, '1.2', 'private-a', priv.auth)).toBe(false);
    const pres = official.authorizeChannel('1.2', 'presence-a', { user_id: 'u' });
    expect(channelAuthValid(app, '1.2', 'presence-a', pres.auth, '{"user_id":"admin"}')).toBe(false);
    for (const bad of [undefined, 42, '', 'key', 'key:', ':' + priv.auth.split(':')[1]]) {
      expect(channelAuthValid(app, '1.2', 'private-a', bad)).toBe(false);
    }
  });
});

describe('Pusher HTTP API signature', () => {
  const now = 1_800_000_000;
  const signed = (method: string, path: string, query: Record<string, string>, body = '') => {
    const params = new URLSearchParams({ auth_key: app.key, auth_timestamp: String(now), auth_version: '1.0', ...query });
    if (body !== '') params.set('body_md5', createHash('md5').update(body).digest('hex'));
    const sorted = [...params].sort(([a], [b]) => (a < b ? -1 : 1));
    const text = `${method}\n${path}\n${sorted.map(([k, v]) => `${k}=${v}`).join('&')}`;
    params.set('auth_signature', createHmac('sha256', app.secret).update(text).digest('hex'));
    return params;
  };

  it('accepts a GET with query parameters and a POST with a body', () => {
    expect(
      apiSignatureProblem(
        app,
        'GET',
        '/apps/1/channels',
        signed('GET', '/apps/1/channels', { filter_by_prefix: 'presence-' }),
        Buffer.alloc(0),
        now,
      ),
    ).toBeUndefined();
    const body = '{"name":"e","channels":["c"],"data":"{}"}';
    expect(
      apiSignatureProblem(app, 'POST', '/apps/1/events', signed('POST', '/apps/1/events', {}, body), Buffer.from(body), now + 600),
    ).toBeUndefined();
  });

  it('refuses a changed parameter, path, method, body, and a clock more than 600 s away', () => {
    const q = signed('GET', '/apps/1/channels', { filter_by_prefix: 'presence-' });
    const changed = new URLSearchParams(q);
    changed.set('filter_by_prefix', 'private-');
    expect(apiSignatureProblem(app, 'GET', '/apps/1/channels', changed, Buffer.alloc(0), now)).toMatch(/auth_signature/);
    expect(apiSignatureProblem(app, 'GET', '/apps/1/channels/x', q, Buffer.alloc(0), now)).toMatch(/auth_signature/);
    expect(apiSignatureProblem(app, 'POST', '/apps/1/channels', q, Buffer.alloc(0), now)).toMatch(/auth_signature/);
    expect(apiSignatureProblem(app, 'GET', '/apps/1/channels', q, Buffer.alloc(0), now + 601)).toMatch(/600 s/);
    expect(apiSignatureProblem(app, 'GET', '/apps/1/channels', q, Buffer.alloc(0), now - 601)).toMatch(/600 s/);
    const body = '{"name":"e"}';
    expect(
      apiSignatureProblem(app, 'POST', '/apps/1/events', signed('POST', '/apps/1/events', {}, body), Buffer.from(body + ' '), now),
    ).toMatch(/body_md5/);
  });
});

describe('Pusher data mapping', () => {
  it('JSON text becomes JSON for Switchboard clients and back; other strings stay strings', () => {
    expect(switchboardData('{"a":[1]}')).toEqual({ a: [1] });
    expect(switchboardData('hello')).toBe('hello');
    expect(pusherData({ a: [1] })).toBe('{"a":[1]}');
    expect(pusherData('hello')).toBe('hello');
    expect(pusherEventName(undefined)).toBe('message');
    expect(pusherEventName('order.paid')).toBe('order.paid');
    // The protocol's namespaces cannot be forged by a publisher.
    expect(pusherEventName('pusher_internal:member_added')).toBe('message');
    expect(pusherEventName('pusher:error')).toBe('message');
  });
});
