import type { PusherApp, PusherWebhookEvent } from '@switchboard/config';
import type { EngineLogger } from '@switchboard/engine';
import { createHash } from 'node:crypto';
import type { Endpoint } from '../endpoints/endpoint';
import { RevisionConflict, type EndpointStore } from '../endpoints/endpoint-store';
import { PUSHER_WEBHOOK_TYPES, PusherWebhookType } from '../signing/pusher-webhooks.format';

/** The CloudEvent type behind each Pusher webhook event. */
const TYPE_OF: Record<PusherWebhookEvent, PusherWebhookType> = Object.fromEntries(
  Object.entries(PUSHER_WEBHOOK_TYPES).map(([type, name]) => [name, type]),
) as Record<PusherWebhookEvent, PusherWebhookType>;

/** A stable id per (app, URL): every replica writes the same endpoint, and a restart finds its own. */
export function pusherEndpointId(app: PusherApp, url: string): string {
  return 'ep_' + createHash('sha256').update(`pusher\n${app.id}\n${url}`).digest('hex').slice(0, 24);
}

/** The endpoints PUSHER_APPS' webhooks stand for, in the outbound engine's terms. */
export function pusherEndpoints(apps: readonly PusherApp[], now = new Date().toISOString()): Endpoint[] {
  const result: Endpoint[] = [];
  for (const app of apps) {
    for (const hook of app.webhooks) {
      result.push({
        id: pusherEndpointId(app, hook.url),
        url: hook.url,
        description: `Pusher webhooks of app ${app.id} (PUSHER_APPS)`,
        events: hook.events.map((e) => TYPE_OF[e]),
        format: 'pusher',
        disabled: false,
        // The app secret's bytes are the HMAC key (Pusher signs with the secret as it is).
        secrets: [{ secret: 'whsec_' + Buffer.from(app.secret, 'utf8').toString('base64') }],
        pusherKey: app.key,
        createdAt: now,
        updatedAt: now,
      });
    }
  }
  return result;
}

/**
 * Brings the stored Pusher endpoints in line with PUSHER_APPS at startup: creates the new
 * ones, updates those whose URL, events, key or secret changed (keeping their state), and
 * removes those no longer configured. Idempotent: replicas starting together agree.
 */
export async function syncPusherEndpoints(store: EndpointStore, apps: readonly PusherApp[], logger: EngineLogger): Promise<void> {
  const wanted = new Map(pusherEndpoints(apps).map((e) => [e.id, e]));
  for (const stored of await store.list()) {
    if (stored.endpoint.format === 'pusher' && !wanted.has(stored.endpoint.id)) {
      await store.delete(stored.endpoint.id);
      logger.info({ endpointId: stored.endpoint.id }, 'pusher webhook endpoint removed (no longer in PUSHER_APPS)');
    }
  }
  for (const endpoint of wanted.values()) {
    for (let attempt = 1; ; attempt++) {
      const current = await store.get(endpoint.id);
      try {
        if (current === undefined) await store.create(endpoint);
        else {
          const c = current.endpoint;
          const same =
            c.url === endpoint.url &&
            c.pusherKey === endpoint.pusherKey &&
            c.secrets[0]?.secret === endpoint.secrets[0].secret &&
            c.events.join() === endpoint.events.join();
          if (!same) {
            const next: Endpoint = {
              ...c,
              url: endpoint.url,
              events: endpoint.events,
              pusherKey: endpoint.pusherKey,
              secrets: endpoint.secrets,
              updatedAt: endpoint.updatedAt,
            };
            await store.update(next, current.revision);
          }
        }
        break;
      } catch (err) {
        if (!(err instanceof RevisionConflict) || attempt >= 5) throw err;
      }
    }
  }
}
