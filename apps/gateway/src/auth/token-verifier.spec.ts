import fc from 'fast-check';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { TokenVerifier } from './token-verifier';

const SECRET = 'unit-test-secret-0123456789-abcdefghijklmnop';
const RUNS = 10_000;
const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 2 ** 31);
const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');

describe('TokenVerifier', () => {
  let jwks: Server;
  let verifier: TokenVerifier;
  let rsa: Awaited<ReturnType<typeof generateKeyPair>>;
  let publicPem: string;

  beforeAll(async () => {
    console.log(`[fuzz] tokens seed=${seed} (FUZZ_SEED=${seed} to replay)`);
    rsa = await generateKeyPair('RS256');
    publicPem = await exportSPKI(rsa.publicKey);
    const jwk = { ...(await exportJWK(rsa.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    jwks = createServer((_req, res) => res.end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    verifier = new TokenVerifier({ secret: SECRET, jwksUrl: url, issuer: 'https://issuer.example', audience: 'switchboard' });
  });
  afterAll(() => jwks.close());

  const hs = (claims: Record<string, unknown> = {}, key = SECRET): Promise<string> =>
    new SignJWT({ channels: ['a:*'], ...claims })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('https://issuer.example')
      .setAudience('switchboard')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(key));

  it('reuses a verification but still refuses the token once it expires', async () => {
    const exp = Math.floor(Date.now() / 1000) + 2;
    const token = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u1')
      .setIssuer('https://issuer.example')
      .setAudience('switchboard')
      .setExpirationTime(exp)
      .sign(new TextEncoder().encode(SECRET));
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'u1', expiresAt: exp * 1000 });
    await expect(verifier.verify(token)).resolves.toMatchObject({ sub: 'u1' });
    // A token one character off is not the cached one (not the last character: its low bits are padding).
    const i = token.length - 10;
    await expect(verifier.verify(token.slice(0, i) + (token[i] === 'A' ? 'B' : 'A') + token.slice(i + 1))).rejects.toThrow();
    await new Promise((r) => setTimeout(r, exp * 1000 - Date.now() + 50));
    await expect(verifier.verify(token)).rejects.toMatchObject({ code: 'unauthorized', message: 'token expired' });
  });

  it('accepts HS256 and RS256 tokens with the required claims and returns the principal', async () => {
    await expect(verifier.verify(await hs())).resolves.toMatchObject({ sub: 'u1', channels: ['a:*'], publish: [] });
    const rs = await new SignJWT({ publish: ['p:1'] })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setSubject('u2')
      .setIssuer('https://issuer.example')
      .setAudience('switchboard')
      .setExpirationTime('1h')
      .sign(rsa.privateKey);
    await expect(verifier.verify(rs)).resolves.toMatchObject({ sub: 'u2', publish: ['p:1'] });
  });

  it('refuses alg:none, HS/RS confusion, expiry, wrong audience or issuer, missing sub and bad claim types', async () => {
    const refused = (token: string): Promise<string> =>
      verifier.verify(token).then(
        () => 'accepted',
        (e: Error) => e.message,
      );
    expect(
      await refused(`${enc({ alg: 'none' })}.${enc({ sub: 'x', iss: 'https://issuer.example', aud: 'switchboard', exp: 9e9 })}.`),
    ).toMatch(/not accepted/);
    // HS256 "signed" with the RSA public key: the classic confusion attack.
    expect(await refused(await hs({}, publicPem))).toMatch(/signature/);
    const expired = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setIssuer('https://issuer.example')
      .setAudience('switchboard')
      .setExpirationTime(Math.floor(Date.now() / 1000) - 10)
      .sign(new TextEncoder().encode(SECRET));
    expect(await refused(expired)).toBe('token expired');
    const wrongAud = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setIssuer('https://issuer.example')
      .setAudience('other')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await refused(wrongAud)).toMatch(/aud/);
    const noIss = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('u')
      .setAudience('switchboard')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await refused(noIss)).toMatch(/iss/);
    const noSub = await new SignJWT({})
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('https://issuer.example')
      .setAudience('switchboard')
      .setExpirationTime('1h')
      .sign(new TextEncoder().encode(SECRET));
    expect(await refused(noSub)).toMatch(/sub/);
    expect(await refused(await hs({ channels: 'a:*' }))).toMatch(/channels/);
    expect(await refused(await hs({ publish: [1, 2] }))).toMatch(/publish/);
    expect(await refused(await hs({}, 'another-secret-that-is-long-enough-for-hs256'))).toMatch(/signature/);
  });

  it('fuzz: a token with any byte changed, or a forged header, is never accepted', async () => {
    const valid = await hs();
    const [header, payload, signature] = valid.split('.');
    const forgedHeader = fc.record({
      alg: fc.constantFrom('none', 'None', 'HS256', 'HS512', 'RS256', 'ES256', 'PS256', ''),
      typ: fc.option(fc.string(), { nil: undefined }),
      kid: fc.option(fc.string(), { nil: undefined }),
    });
    const cases = fc.sample(
      fc.oneof(
        // One character of the token replaced.
        fc
          .tuple(fc.nat({ max: valid.length - 1 }), fc.constantFrom(...'ABCxyz019-_.'))
          .map(([i, c]) =>
            valid[i] === c ? valid.slice(0, i) + (c === 'A' ? 'B' : 'A') + valid.slice(i + 1) : valid.slice(0, i) + c + valid.slice(i + 1),
          ),
        // A forged header on the real payload and signature.
        forgedHeader.map((h) => `${enc(h)}.${payload}.${signature}`),
        // An elevated payload under the real signature.
        fc
          .record({ sub: fc.string(), channels: fc.array(fc.string()), exp: fc.integer() })
          .map((p) => `${header}.${enc({ ...p, iss: 'https://issuer.example', aud: 'switchboard' })}.${signature}`),
        fc.string({ maxLength: 300 }),
      ),
      { numRuns: RUNS, seed },
    );
    // A base64url character can differ and still decode to the same bytes (unused low bits
    // of the last character): that is the same token, not a tampered one.
    const bytes = (t: string): string =>
      t
        .split('.')
        .map((part) => Buffer.from(part, 'base64url').toString('hex'))
        .join('.');
    const original = bytes(valid);
    let accepted = 0;
    for (const token of cases) {
      if (bytes(token) === original) continue;
      await verifier.verify(token).then(
        () => accepted++,
        (e: { code?: string }) => expect(e.code).toBe('unauthorized'),
      );
    }
    expect(accepted).toBe(0);
  }, 60_000);
});
