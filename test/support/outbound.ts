import type { EngineRuntime } from '@switchboard/engine';
import { RunningService, startService } from '@switchboard/platform';
import { requireSharedServers } from '@switchboard/testing';
import { notifierDefinition } from '../../apps/notifier/src/notifier.definition';
import { cleanUp, isolatedEnv, testRuntime } from './notifier-harness';

export const ADMIN_KEY = 'outbound-admin-key';

// JSON answers, read field by field in the assertions.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Json = Record<string, any>;

/** Calls an admin route with ADMIN_API_KEY (or `key`). */
export async function adminCall(
  baseUrl: string,
  method: string,
  path: string,
  body?: unknown,
  key = ADMIN_KEY,
): Promise<{ status: number; body: Json | undefined }> {
  const res = await fetch(baseUrl + path, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text === '' ? undefined : (JSON.parse(text) as Json) };
}

/** A notifier in this process on the shared NATS/Redis (own streams, bucket and keys), delivering to 127.0.0.1 over http. */
export class OutboundNotifier {
  private constructor(
    readonly env: Record<string, string>,
    readonly service: RunningService,
    /** The event bus and streams of the notifier, from another connection (the "product service" side). */
    readonly runtime: EngineRuntime,
  ) {}

  static async start(overrides: Record<string, string> = {}): Promise<OutboundNotifier> {
    const { natsUrl, redisUrl } = await requireSharedServers();
    const env = isolatedEnv(natsUrl, redisUrl, {
      ADMIN_API_KEY: ADMIN_KEY,
      OUTBOUND_ALLOW_HTTP: 'true',
      OUTBOUND_ALLOW_CIDRS: '127.0.0.1/32',
      ...overrides,
    });
    const service = await startService(notifierDefinition, env);
    const runtime = await testRuntime(env);
    return new OutboundNotifier(env, service, runtime);
  }

  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: Json | undefined }> {
    return adminCall(this.service.url, method, path, body);
  }

  /** Registers an endpoint; resolves with its id and secret. */
  async createEndpoint(body: Json): Promise<{ id: string; secret: string }> {
    const res = await this.admin('POST', '/v1/endpoints', body);
    if (res.status !== 201) throw new Error(`endpoint not created: ${res.status} ${JSON.stringify(res.body)}`);
    return { id: res.body!.id as string, secret: res.body!.secret as string };
  }

  /** Stores a CloudEvent on the notifier's EVENTS stream. */
  publish(id: string, type: string, data: unknown = {}): Promise<unknown> {
    return this.runtime.eventBus.publish(`${this.env.EVENTS_SUBJECT_PREFIX}.app.${type}`, {
      specversion: '1.0',
      id,
      source: 'outbound-tests',
      type,
      data,
    });
  }

  async attempts(endpointId: string, query = ''): Promise<Json[]> {
    const res = await this.admin('GET', `/v1/endpoints/${endpointId}/attempts?limit=1000${query}`);
    return (res.body?.attempts ?? []) as Json[];
  }

  async stop(): Promise<void> {
    await this.service.stop();
    await cleanUp(this.runtime, this.env);
  }
}
