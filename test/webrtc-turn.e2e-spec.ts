import { RunningService } from '@switchboard/platform';
import { Coturn, signToken } from '@switchboard/testing';
import { createHmac } from 'node:crypto';
import { startGateway } from './support/gateway';

interface IceServers {
  iceServers: Array<{ urls: string[]; username?: string; credential?: string }>;
  ttl: number;
}

/** The credentials of /v1/webrtc/ice-servers against a real coturn (use-auth-secret). */
describe('WebRTC: TURN credentials', () => {
  const secret = 'turn-shared-secret-for-tests';
  let gw: RunningService;
  let turn: Coturn;
  let token: string;

  beforeAll(async () => {
    turn = await Coturn.start(secret);
    gw = await startGateway({
      TURN_SECRET: secret,
      TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp,turn:127.0.0.1:${turn.port}?transport=tcp`,
      STUN_URLS: `stun:127.0.0.1:${turn.port}`,
      TURN_TTL_SECONDS: '600',
    });
    token = await signToken({ sub: 'alice' });
  });
  afterAll(async () => {
    await gw?.stop();
    turn?.stop();
  });

  const iceServers = async (auth: string | undefined, service = gw): Promise<{ status: number; body: IceServers }> => {
    const res = await fetch(`${service.url}/v1/webrtc/ice-servers`, auth ? { headers: { Authorization: `Bearer ${auth}` } } : {});
    return { status: res.status, body: (await res.json()) as IceServers };
  };

  it('hands out time-limited credentials that coturn accepts', async () => {
    const { status, body } = await iceServers(token);
    expect(status).toBe(200);
    expect(body.ttl).toBe(600);
    expect(body.iceServers[0]).toEqual({ urls: [`stun:127.0.0.1:${turn.port}`] });
    const relay = body.iceServers[1];
    expect(relay.urls).toHaveLength(2);
    const [expiry, sub] = relay.username!.split(':');
    expect(sub).toBe('alice');
    expect(Number(expiry)).toBeGreaterThan(Date.now() / 1000 + 590);
    expect((await turn.allocate(relay.username!, relay.credential!)).ok).toBe(true);
  });

  it('coturn refuses a wrong secret and an expired credential', async () => {
    const { body } = await iceServers(token);
    const relay = body.iceServers[1];
    const wrongCredential = relay.credential!.replace(/^./, (c) => (c === 'A' ? 'B' : 'A'));
    expect((await turn.allocate(relay.username!, wrongCredential)).ok).toBe(false);
    const other = await Coturn.start('a-different-secret');
    try {
      expect((await other.allocate(relay.username!, relay.credential!)).ok).toBe(false);
    } finally {
      other.stop();
    }
    const expiredUser = `${Math.floor(Date.now() / 1000) - 60}:alice`;
    const expiredCredential = createHmac('sha1', secret).update(expiredUser).digest('base64');
    expect((await turn.allocate(expiredUser, expiredCredential)).ok).toBe(false);
  });

  it('never lets a credential outlive its token: the expiry is the token’s exp when that comes first', async () => {
    const shortLived = await signToken({ sub: 'alice', expiresIn: 120 });
    const exp = (JSON.parse(Buffer.from(shortLived.split('.')[1], 'base64url').toString()) as { exp: number }).exp;
    const { status, body } = await iceServers(shortLived);
    expect(status).toBe(200);
    const relay = body.iceServers[1];
    const expiry = Number(relay.username!.split(':')[0]);
    // TURN_TTL_SECONDS is 600 here: the token's 120 s win.
    expect(expiry).toBeLessThanOrEqual(exp);
    expect(expiry).toBeGreaterThanOrEqual(exp - 1);
    expect(body.ttl).toBeLessThanOrEqual(120);
    expect(body.ttl).toBeGreaterThanOrEqual(118);
    expect((await turn.allocate(relay.username!, relay.credential!)).ok).toBe(true);
    // A token that outlives TURN_TTL_SECONDS gets TURN_TTL_SECONDS.
    const longLived = await signToken({ sub: 'alice', expiresIn: 7200 });
    expect((await iceServers(longLived)).body.ttl).toBe(600);
  });

  it('issues credentials for an hour by default (TURN_TTL_SECONDS), even to a day-long token', async () => {
    const hourly = await startGateway({ TURN_SECRET: secret, TURN_URLS: `turn:127.0.0.1:${turn.port}?transport=udp` });
    try {
      const { body } = await iceServers(await signToken({ sub: 'alice', expiresIn: 86400 }), hourly);
      expect(body.ttl).toBe(3600);
      const expiry = Number(body.iceServers[0].username!.split(':')[0]);
      expect(expiry).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) + 3600);
      expect(expiry).toBeGreaterThan(Date.now() / 1000 + 3590);
    } finally {
      await hourly.stop();
    }
  });

  it('needs a token, and lists only STUN without TURN_SECRET', async () => {
    expect((await iceServers(undefined)).status).toBe(401);
    const stunOnly = await startGateway({ STUN_URLS: 'stun:stun.example.org:3478', TURN_URLS: 'turn:turn.example.org:3478' });
    try {
      expect((await iceServers(token, stunOnly)).body.iceServers).toEqual([{ urls: ['stun:stun.example.org:3478'] }]);
    } finally {
      await stunOnly.stop();
    }
  });
});
