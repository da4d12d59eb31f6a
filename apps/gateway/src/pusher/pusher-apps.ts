import type { PusherApp } from '@switchboard/config';

export const PUSHER_APPS = Symbol('PusherApps');

/** The Pusher apps of PUSHER_APPS, by key (WebSocket `/app/<key>`, signatures) and by id (HTTP API `/apps/<id>/`). */
export class PusherApps {
  private readonly byKey = new Map<string, PusherApp>();
  private readonly byId = new Map<string, PusherApp>();

  constructor(
    apps: readonly PusherApp[],
    /** `activity_timeout` told to clients, seconds. */
    readonly activityTimeoutSeconds: number,
  ) {
    for (const app of apps) {
      this.byKey.set(app.key, app);
      this.byId.set(app.id, app);
    }
  }

  /** Some app wants `client_event` webhooks. */
  get clientEventWebhooks(): boolean {
    for (const app of this.byKey.values()) if (app.webhooks.some((w) => w.events.includes('client_event'))) return true;
    return false;
  }

  get enabled(): boolean {
    return this.byKey.size > 0;
  }

  withKey(key: string): PusherApp | undefined {
    return this.byKey.get(key);
  }

  withId(id: string): PusherApp | undefined {
    return this.byId.get(id);
  }
}
