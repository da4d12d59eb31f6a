import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { GatewayConfig } from '@switchboard/config';
import { PLATFORM, type Platform } from '@switchboard/platform';
import { isSwitchboardError, SwitchboardError } from '@switchboard/protocol';
import type { Request, Response } from 'express';
import { createHmac } from 'node:crypto';
import type { Principal } from '../auth/principal';
import { tokenFromRequest } from '../auth/request-auth';
import { GatewayTokenVerifier } from '../auth/token-verifier';
import { sendError } from '../transports/http/channel-request';

export interface IceServer {
  urls: string[];
  username?: string;
  credential?: string;
}

/**
 * coturn's REST-API credential scheme (`use-auth-secret`): username `<expiry>:<sub>`,
 * password base64(HMAC-SHA1(secret, username)). Valid until `expiry` (unix seconds).
 */
export function turnCredential(secret: string, sub: string, expiresAt: number): { username: string; credential: string } {
  const username = `${expiresAt}:${sub}`;
  return { username, credential: createHmac('sha1', secret).update(username).digest('base64') };
}

/**
 * Seconds a TURN credential issued now may live: TURN_TTL_SECONDS, but never past the token's
 * `exp` — coturn cannot revoke a credential, so one that outlived its token would keep a
 * logged-out or expired client relaying. 0 when the token is already at or past `exp` (a
 * verifier with clock tolerance accepts it for a few seconds more).
 */
export function turnTtlSeconds(principal: Pick<Principal, 'expiresAt'>, maxSeconds: number, nowMs: number): number {
  if (principal.expiresAt === undefined) return maxSeconds;
  return Math.max(0, Math.min(maxSeconds, Math.floor((principal.expiresAt - nowMs) / 1000)));
}

/** `GET /v1/webrtc/ice-servers`: STUN servers, plus time-limited TURN credentials when TURN_SECRET is set. */
@Controller('v1/webrtc')
export class IceServersController {
  constructor(
    @Inject(PLATFORM) private readonly platform: Platform<GatewayConfig>,
    private readonly verifier: GatewayTokenVerifier,
  ) {}

  @Get('ice-servers')
  async iceServers(@Req() req: Request, @Res() res: Response): Promise<void> {
    try {
      const principal = await this.verifier.verify(tokenFromRequest(req, new URL(req.url, 'http://localhost').searchParams));
      const c = this.platform.config;
      const now = Date.now();
      const ttl = turnTtlSeconds(principal, c.TURN_TTL_SECONDS, now);
      // A credential that is born expired is useless to the client: it needs a new token first.
      if (ttl === 0) throw new SwitchboardError('unauthorized', 'token expired');
      const iceServers: IceServer[] = [];
      if (c.STUN_URLS.length > 0) iceServers.push({ urls: [...c.STUN_URLS] });
      if (c.TURN_SECRET !== undefined && c.TURN_URLS.length > 0) {
        const expiresAt = Math.floor(now / 1000) + ttl;
        iceServers.push({ urls: [...c.TURN_URLS], ...turnCredential(c.TURN_SECRET, principal.sub, expiresAt) });
      }
      res.setHeader('Cache-Control', 'no-store');
      res.json({ iceServers, ttl });
    } catch (err) {
      if (isSwitchboardError(err)) sendError(res, err);
      else throw err;
    }
  }
}
