import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { GatewayConfig } from '@switchboard/config';
import { PLATFORM, type Platform } from '@switchboard/platform';
import { isSwitchboardError } from '@switchboard/protocol';
import type { Request, Response } from 'express';
import { createHmac } from 'node:crypto';
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
      const iceServers: IceServer[] = [];
      if (c.STUN_URLS.length > 0) iceServers.push({ urls: [...c.STUN_URLS] });
      if (c.TURN_SECRET !== undefined && c.TURN_URLS.length > 0) {
        const expiresAt = Math.floor(Date.now() / 1000) + c.TURN_TTL_SECONDS;
        iceServers.push({ urls: [...c.TURN_URLS], ...turnCredential(c.TURN_SECRET, principal.sub, expiresAt) });
      }
      res.setHeader('Cache-Control', 'no-store');
      res.json({ iceServers, ttl: c.TURN_TTL_SECONDS });
    } catch (err) {
      if (isSwitchboardError(err)) sendError(res, err);
      else throw err;
    }
  }
}
