import { Inject, Injectable } from '@nestjs/common';
import type { GatewayConfig } from '@switchboard/config';
import { presenceInfoError } from '@switchboard/engine';
import { PLATFORM, type Platform } from '@switchboard/platform';
import { MAX_TOKEN_LENGTH, SwitchboardError } from '@switchboard/protocol';
import { createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { Principal } from './principal';

const MAX_PATTERNS = 1024;
/** Verified tokens remembered (long-poll verifies on every request; so do reconnects). */
const CACHE_SIZE = 10_000;
/** How long a verification is reused at most (bounds a JWKS key rotation's reach). */
const CACHE_TTL_MS = 60_000;

export interface TokenVerifierOptions {
  secret?: string;
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
  /** Accepted clock skew on `exp`/`nbf`, seconds (default 0). */
  clockToleranceSeconds?: number;
  /** Refuse tokens without `exp`. */
  requireExp?: boolean;
}

/**
 * Verifies client tokens for every transport (one place): HS256 with JWT_SECRET, RS256 /
 * ES256 from JWT_JWKS_URL. The key type decides the allowed algorithms, so `alg: none`
 * and HS/RS confusion (an HS256 token signed with the public key) are always refused.
 */
export class TokenVerifier {
  /** JWT_SECRET imported once as an HMAC key: jose would import raw bytes on every verify (2–4× the cost). */
  private readonly secret?: Promise<CryptoKey>;
  private readonly jwks?: JWTVerifyGetKey;
  /** token → its principal and until when it may be reused; insertion order = eviction order. */
  private readonly cache = new Map<string, { principal: Principal; until: number }>();

  constructor(private readonly options: TokenVerifierOptions) {
    if (options.secret !== undefined) {
      const raw = new TextEncoder().encode(options.secret);
      this.secret = crypto.subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
    }
    if (options.jwksUrl !== undefined) this.jwks = createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: 30_000 });
  }

  /**
   * The principal of a valid token; `unauthorized` otherwise (the reason is safe to show).
   * A token verified in the last minute is not verified again (the same bytes carry the
   * same signature), and is never reused past its `exp` + the clock tolerance.
   */
  async verify(token: string | undefined): Promise<Principal> {
    if (token === undefined || token === '') throw new SwitchboardError('unauthorized', 'missing token');
    if (token.length > MAX_TOKEN_LENGTH) throw new SwitchboardError('unauthorized', 'token too long');
    const now = Date.now();
    const cached = this.cache.get(token);
    if (cached !== undefined) {
      if (now < cached.until) return cached.principal;
      this.cache.delete(token);
    }
    const principal = await this.verifyUncached(token);
    if (this.cache.size >= CACHE_SIZE) this.cache.delete(this.cache.keys().next().value!);
    const deadline = principal.expiresAt === undefined ? Infinity : principal.expiresAt + (this.options.clockToleranceSeconds ?? 0) * 1000;
    this.cache.set(token, { principal, until: Math.min(now + CACHE_TTL_MS, deadline) });
    return principal;
  }

  /**
   * The principal of `token` when a verification of it may be reused now (what `verify`
   * would answer without verifying), else undefined: a request whose token was seen spares
   * the promise. Then `verify` decides, with the same checks.
   */
  cached(token: string | undefined): Principal | undefined {
    if (token === undefined) return undefined;
    const cached = this.cache.get(token);
    return cached !== undefined && Date.now() < cached.until ? cached.principal : undefined;
  }

  private async verifyUncached(token: string): Promise<Principal> {
    let alg: string | undefined;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      throw new SwitchboardError('unauthorized', 'malformed token');
    }
    const common = {
      issuer: this.options.issuer,
      audience: this.options.audience,
      requiredClaims: this.options.requireExp === true ? ['sub', 'exp'] : ['sub'],
      clockTolerance: this.options.clockToleranceSeconds ?? 0,
    };
    let payload: JWTPayload;
    try {
      if (alg === 'HS256' && this.secret !== undefined) {
        ({ payload } = await jwtVerify(token, await this.secret, { ...common, algorithms: ['HS256'] }));
      } else if ((alg === 'RS256' || alg === 'ES256') && this.jwks !== undefined) {
        ({ payload } = await jwtVerify(token, this.jwks, { ...common, algorithms: ['RS256', 'ES256'] }));
      } else {
        throw new SwitchboardError('unauthorized', `token algorithm ${JSON.stringify(alg ?? null)} is not accepted`);
      }
    } catch (err) {
      if (err instanceof SwitchboardError) throw err;
      throw new SwitchboardError('unauthorized', describe(err), { cause: err });
    }
    return toPrincipal(payload);
  }
}

function describe(err: unknown): string {
  if (err instanceof errors.JWTExpired) return 'token expired';
  if (err instanceof errors.JWTClaimValidationFailed) {
    return err.reason === 'missing' ? `token claim "${err.claim}" is required` : `token claim "${err.claim}" is invalid`;
  }
  if (err instanceof errors.JWSSignatureVerificationFailed) return 'token signature is invalid';
  if (err instanceof errors.JWKSNoMatchingKey) return 'token key is unknown';
  return 'token is invalid';
}

function patterns(value: unknown, claim: string): string[] {
  if (value === undefined) return [];
  if (
    !Array.isArray(value) ||
    value.length > MAX_PATTERNS ||
    !value.every((p) => typeof p === 'string' && p.length > 0 && p.length <= 256)
  ) {
    throw new SwitchboardError('unauthorized', `token claim "${claim}" must be an array of channel patterns`);
  }
  return value as string[];
}

function toPrincipal(payload: JWTPayload): Principal {
  if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 256) {
    throw new SwitchboardError('unauthorized', 'token claim "sub" is invalid');
  }
  const info = payload.info;
  if (info !== undefined) {
    const problem = presenceInfoError(info);
    if (problem !== undefined) throw new SwitchboardError('unauthorized', `token claim "info" is invalid: ${problem}`);
  }
  return {
    sub: payload.sub,
    channels: patterns(payload.channels, 'channels'),
    publish: patterns(payload.publish, 'publish'),
    expiresAt: typeof payload.exp === 'number' ? payload.exp * 1000 : undefined,
    info: info as Record<string, unknown> | undefined,
  };
}

/** The gateway's verifier, from its config. */
@Injectable()
export class GatewayTokenVerifier extends TokenVerifier {
  constructor(@Inject(PLATFORM) platform: Platform<GatewayConfig>) {
    const c = platform.config;
    super({
      secret: c.JWT_SECRET,
      jwksUrl: c.JWT_JWKS_URL,
      issuer: c.JWT_ISSUER,
      audience: c.JWT_AUDIENCE,
      clockToleranceSeconds: c.JWT_CLOCK_TOLERANCE_SECONDS,
      requireExp: c.JWT_REQUIRE_EXP,
    });
  }
}
