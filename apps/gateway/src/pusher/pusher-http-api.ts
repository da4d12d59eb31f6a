import { Inject, Injectable } from '@nestjs/common';
import type { ChannelEngine, PublishRequest } from '@switchboard/engine';
import type { Logger } from '@switchboard/observability';
import { CHANNEL_ENGINE, LOGGER, replyJson } from '@switchboard/platform';
import { channelNameError, isSwitchboardError } from '@switchboard/protocol';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import { GATEWAY_OPTIONS } from '../hub/gateway-options';
import type { GatewayOptions } from '../hub/gateway-options';
import { PUSHER_APPS, PusherApps } from './pusher-apps';
import { isPresenceChannel, PUSHER_PRESENCE } from './pusher-presence';
import type { PusherPresence } from './pusher-presence';
import { switchboardData } from './pusher-protocol';
import { apiSignatureProblem } from './pusher-signing';

/** Pusher's limits on one trigger: channels per event, events per batch. */
const MAX_CHANNELS_PER_EVENT = 100;
const MAX_BATCH_EVENTS = 10;
const EVENT_NAME_MAX = 200;
const SOCKET_ID = /^\d+\.\d+$/;
const ROUTE = /^\/apps\/([^/]+)(\/.*)$/;
const CHANNEL_ROUTE = /^\/channels\/([^/]+)(\/users)?$/;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

interface TriggerRequest {
  name: string;
  data: unknown;
  channels: string[];
  socketId?: string;
}

/**
 * The Pusher HTTP API under `/apps/<id>/…`, signed as Pusher signs it (`auth_key`,
 * `auth_timestamp` within 600 s, `auth_version=1.0`, `body_md5`, `auth_signature`): what the
 * official `pusher` server libraries (and Laravel's Pusher broadcaster) call. An event is a
 * Switchboard message on the channel of the same name with `type` = the event name, so
 * `/v1/ws`, SSE and long-poll subscribers get it too. Served on the Node server ahead of
 * Express, which would not keep the raw body `body_md5` covers.
 */
@Injectable()
export class PusherHttpApi {
  constructor(
    @Inject(CHANNEL_ENGINE) private readonly engine: ChannelEngine,
    @Inject(PUSHER_APPS) private readonly apps: PusherApps,
    @Inject(PUSHER_PRESENCE) private readonly presence: PusherPresence,
    @Inject(GATEWAY_OPTIONS) private readonly options: GatewayOptions,
    @Inject(LOGGER) private readonly logger: Logger,
  ) {}

  /** Takes `/apps/…` requests of `server` before Express when any app is configured. */
  attach(server: Server): void {
    if (!this.apps.enabled) return;
    const others = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
    server.removeAllListeners('request');
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if ((req.url ?? '').startsWith('/apps/')) {
        this.handle(req, res).catch((err: unknown) => {
          this.logger.error({ err }, 'pusher API request failed');
          replyJson(req, res, { status: 500, body: { error: 'unavailable', message: 'internal error' } });
        });
        return;
      }
      for (const listener of others) listener.call(server, req, res);
    });
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    try {
      const match = ROUTE.exec(url.pathname);
      const app = match === null ? undefined : this.apps.withId(decodeURIComponent(match[1]));
      if (app === undefined || match === null) throw new ApiError(404, 'not_found', 'no Pusher app with this id');
      const method = req.method ?? 'GET';
      const body = await this.readBody(req);
      const problem = apiSignatureProblem(app, method, url.pathname, url.searchParams, body, Math.floor(Date.now() / 1000));
      if (problem !== undefined) throw new ApiError(401, 'unauthorized', problem);
      const result = await this.route(method, match[2], body, url.searchParams);
      replyJson(req, res, { status: 200, body: result });
    } catch (err) {
      if (err instanceof ApiError) {
        replyJson(req, res, { status: err.status, body: { error: err.code, message: err.message } });
      } else if (isSwitchboardError(err)) {
        replyJson(req, res, { status: err.httpStatus, body: { error: err.code, message: err.message } });
      } else throw err;
    }
  }

  private async route(method: string, path: string, body: Buffer, query: URLSearchParams): Promise<object> {
    if (method === 'POST' && path === '/events') {
      await this.trigger([this.triggerRequest(parseJson(body))]);
      return {};
    }
    if (method === 'POST' && path === '/batch_events') {
      const batch = (parseJson(body) as { batch?: unknown }).batch;
      if (!Array.isArray(batch) || batch.length === 0) throw new ApiError(400, 'bad_request', 'batch must be a non-empty list of events');
      if (batch.length > MAX_BATCH_EVENTS) throw new ApiError(400, 'bad_request', `at most ${MAX_BATCH_EVENTS} events per batch`);
      await this.trigger(batch.map((e) => this.triggerRequest(e)));
      return { batch: batch.map(() => ({})) };
    }
    if (method === 'GET') {
      if (path === '/channels') return this.channels(query);
      const m = CHANNEL_ROUTE.exec(path);
      if (m !== null) {
        const channel = decodeURIComponent(m[1]);
        const problem = channelNameError(channel);
        if (problem !== undefined) throw new ApiError(400, 'bad_request', `invalid channel ${JSON.stringify(channel)}: ${problem}`);
        return m[2] === '/users' ? this.users(channel) : this.channel(channel, query);
      }
    }
    throw new ApiError(404, 'not_found', `no Pusher API route ${method} ${path}`);
  }

  /** `GET /channels`: occupied channels, `info=user_count` with a `presence-` prefix filter (as Pusher allows it). */
  private async channels(query: URLSearchParams): Promise<object> {
    const prefix = query.get('filter_by_prefix') ?? '';
    const info = infoFields(query);
    if (info.has('user_count') && !prefix.startsWith('presence-')) {
      throw new ApiError(400, 'bad_request', 'info=user_count needs filter_by_prefix=presence-');
    }
    const index = this.presence.channels;
    if (index === undefined) return { channels: {} };
    const channels: Record<string, object> = {};
    for (const c of await index.occupied(prefix)) channels[c.channel] = info.has('user_count') ? { user_count: c.users } : {};
    return { channels };
  }

  /** `GET /channels/<name>`: `occupied`, and `user_count` (presence) / `subscription_count` when asked. */
  private async channel(channel: string, query: URLSearchParams): Promise<object> {
    const info = infoFields(query);
    if (info.has('user_count') && !isPresenceChannel(channel))
      throw new ApiError(400, 'bad_request', 'user_count is only for presence- channels');
    const count = this.presence.service === undefined ? { count: 0, connections: 0 } : await this.presence.service.count(channel);
    const result: Record<string, unknown> = { occupied: count.connections > 0 };
    if (info.has('user_count')) result.user_count = count.count;
    if (info.has('subscription_count')) result.subscription_count = count.connections;
    return result;
  }

  /** `GET /channels/<name>/users`: the members of a presence channel (up to PRESENCE_MAX_MEMBERS). */
  private async users(channel: string): Promise<object> {
    if (!isPresenceChannel(channel)) throw new ApiError(400, 'bad_request', 'users are only listed for presence- channels');
    if (this.presence.service === undefined) return { users: [] };
    const snapshot = await this.presence.service.query(channel);
    return { users: snapshot.members.map((m) => ({ id: m.user })) };
  }

  /** Validates every event of a request before any is published: a bad one publishes nothing. */
  private triggerRequest(raw: unknown): TriggerRequest {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw))
      throw new ApiError(400, 'bad_request', 'an event must be a JSON object');
    const e = raw as Record<string, unknown>;
    if (typeof e.name !== 'string' || e.name.length === 0 || e.name.length > EVENT_NAME_MAX) {
      throw new ApiError(400, 'bad_request', `name must be a string of 1–${EVENT_NAME_MAX} characters`);
    }
    if (e.name.startsWith('pusher:') || e.name.startsWith('pusher_internal:')) {
      throw new ApiError(400, 'bad_request', 'event names starting with pusher: or pusher_internal: are reserved');
    }
    const channels = e.channels !== undefined ? e.channels : e.channel !== undefined ? [e.channel] : undefined;
    if (!Array.isArray(channels) || channels.length === 0 || channels.length > MAX_CHANNELS_PER_EVENT) {
      throw new ApiError(400, 'bad_request', `channels must list 1–${MAX_CHANNELS_PER_EVENT} channels`);
    }
    for (const c of channels) {
      const problem = channelNameError(c);
      if (problem !== undefined) throw new ApiError(400, 'bad_request', `invalid channel ${JSON.stringify(c)}: ${problem}`);
    }
    if (e.socket_id !== undefined && (typeof e.socket_id !== 'string' || !SOCKET_ID.test(e.socket_id))) {
      throw new ApiError(400, 'bad_request', 'socket_id must look like 1234.5678');
    }
    if (typeof e.data !== 'string' && e.data !== undefined) throw new ApiError(400, 'bad_request', 'data must be a string (JSON text)');
    return {
      name: e.name,
      data: switchboardData(e.data ?? ''),
      channels: channels as string[],
      socketId: e.socket_id,
    };
  }

  private async trigger(events: readonly TriggerRequest[]): Promise<void> {
    const receivedAt = Date.now();
    const publishes: PublishRequest[] = [];
    // `socket_id` excludes that connection (Laravel's `toOthers()`), as its own client events are.
    for (const e of events)
      for (const channel of e.channels) publishes.push({ channel, data: e.data, type: e.name, from: e.socketId, receivedAt });
    await Promise.all(publishes.map((p) => this.engine.publish(p)));
  }

  private readBody(req: IncomingMessage): Promise<Buffer> {
    const limit = this.options.maxMessageBytes;
    return new Promise((resolve, reject) => {
      const declared = Number(req.headers['content-length']);
      if (Number.isFinite(declared) && declared > limit)
        return reject(new ApiError(413, 'too_large', `body is larger than ${limit} bytes`));
      const chunks: Buffer[] = [];
      let size = 0;
      const onData = (chunk: Buffer): void => {
        size += chunk.length;
        if (size <= limit) return void chunks.push(chunk);
        req.off('data', onData);
        req.off('end', onEnd);
        reject(new ApiError(413, 'too_large', `body is larger than ${limit} bytes`));
      };
      const onEnd = (): void => resolve(Buffer.concat(chunks, size));
      req.on('data', onData);
      req.once('end', onEnd);
      req.once('error', reject);
    });
  }
}

/** `info=a,b` as a set. */
function infoFields(query: URLSearchParams): Set<string> {
  return new Set((query.get('info') ?? '').split(',').filter((s) => s !== ''));
}

function parseJson(body: Buffer): unknown {
  try {
    return JSON.parse(body.toString('utf8')) as unknown;
  } catch {
    throw new ApiError(400, 'bad_request', 'body is not valid JSON');
  }
}
