import { Injectable } from '@nestjs/common';
import { channelNameError, isSwitchboardError, SwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { canSubscribe } from '../../auth/principal';
import { originAllowed, tokenFromRequest } from '../../auth/request-auth';
import { GatewayTokenVerifier } from '../../auth/token-verifier';
import { Hub } from '../../hub/hub';
import { applyCors, sendError } from './channel-request';

export const PRESENCE_PATH = '/v1/presence';

/**
 * `GET /v1/presence?channel=c` with the client's token: the channel's presence, for whoever
 * may subscribe to it (the WS `presence` reply without `op`/`id`). 401 token, 403 not
 * allowed, 400 a missing or invalid channel, 404 presence off for the channel, 503 the
 * store does not answer.
 */
@Injectable()
export class PresenceRoute {
  constructor(
    private readonly hub: Hub,
    private readonly verifier: GatewayTokenVerifier,
  ) {}

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (applyCors(req, res, this.hub.options)) return;
    try {
      const query = new URL(req.url ?? '/', 'http://localhost').searchParams;
      if (!originAllowed(req, this.hub.options.allowedOrigins)) throw new SwitchboardError('forbidden', 'origin not allowed');
      const principal = await this.verifier.verify(tokenFromRequest(req, query));
      const channels = query.getAll('channel');
      if (channels.length !== 1) throw new SwitchboardError('bad_request', 'exactly one "channel" parameter is required');
      const channel = channels[0];
      const problem = channelNameError(channel);
      if (problem !== undefined)
        throw new SwitchboardError('bad_request', `invalid channel ${JSON.stringify(channel.slice(0, 130))}: ${problem}`);
      if (!canSubscribe(principal, channel)) throw new SwitchboardError('forbidden', `not allowed to subscribe to ${channel}`);
      const body = await this.hub.presence.queryJson(channel);
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-store' });
      res.end(req.method === 'HEAD' ? undefined : body);
    } catch (err) {
      if (isSwitchboardError(err)) sendError(res, err);
      else sendError(res, new SwitchboardError('unavailable', 'internal error'));
    }
  }
}
