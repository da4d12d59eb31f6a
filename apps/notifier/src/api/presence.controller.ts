import { Controller, Get, Inject, OnApplicationShutdown, Param, UseFilters } from '@nestjs/common';
import type { PresenceService } from '@switchboard/engine';
import { assertChannel } from '@switchboard/protocol';
import { SwitchboardErrorFilter } from './http-error';

export const NOTIFIER_PRESENCE = Symbol('NotifierPresence');

/** The answer of `GET /v1/channels/<channel>/presence` (the client's presence reply without `op`/`id`). */
export interface ChannelPresenceReply {
  channel: string;
  count: number;
  connections: number;
  members: Array<{ user: string; info: Record<string, unknown>; connections: number }>;
  truncated?: true;
}

/**
 * `GET /v1/channels/<channel>/presence` for product services, with the publish key (route
 * middleware, notifier.module.ts): who is in a channel, from the shared presence store.
 * 400 an invalid channel name, 404 presence off for the channel, 503 the store does not answer.
 */
@Controller('v1/channels')
@UseFilters(SwitchboardErrorFilter)
export class PresenceController implements OnApplicationShutdown {
  constructor(@Inject(NOTIFIER_PRESENCE) private readonly presence: PresenceService) {}

  @Get(':channel/presence')
  async presenceOf(@Param('channel') channel: string): Promise<ChannelPresenceReply> {
    assertChannel(channel);
    const s = await this.presence.query(channel);
    const reply: ChannelPresenceReply = { channel, count: s.count, connections: s.connections, members: s.members };
    if (s.truncated) reply.truncated = true;
    return reply;
  }

  /** Closes the process's presence service (idempotent: in the single process the gateway closes it too). */
  async onApplicationShutdown(): Promise<void> {
    await this.presence.close();
  }
}
