import { SignJWT } from 'jose';

/** A secret long enough for HS256, for tests. */
export const TEST_JWT_SECRET = 'test-secret-0123456789-abcdefghijklmnopqrstuvwxyz';

export interface TestClaims {
  sub?: string;
  channels?: string[];
  publish?: string[];
  /** Seconds from now; negative for an expired token. */
  expiresIn?: number;
  iss?: string;
  aud?: string;
  /** `info` claim (what presence shows of the user). */
  info?: unknown;
}

/** An HS256 client token as the gateway expects it. */
export function signToken(claims: TestClaims = {}, secret = TEST_JWT_SECRET): Promise<string> {
  const jwt = new SignJWT({
    channels: claims.channels ?? ['*'],
    publish: claims.publish ?? [],
    ...(claims.info === undefined ? {} : { info: claims.info }),
  })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(claims.sub ?? 'tester')
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (claims.expiresIn ?? 3600));
  if (claims.iss !== undefined) jwt.setIssuer(claims.iss);
  if (claims.aud !== undefined) jwt.setAudience(claims.aud);
  return jwt.sign(new TextEncoder().encode(secret));
}

/** A token with `alg: none` (must always be refused). */
export function unsignedToken(sub = 'attacker'): string {
  const enc = (o: object): string => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${enc({ alg: 'none', typ: 'JWT' })}.${enc({ sub, channels: ['*'], exp: Math.floor(Date.now() / 1000) + 3600 })}.`;
}
