import type { CloudEvent, EngineLogger } from '@switchboard/engine';
import type { Metrics } from '@switchboard/observability';
import { SwitchboardError } from '@switchboard/protocol';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { AttemptLog, DeliveryAttempt, LOGGED_BODY_BYTES, ListedAttempt } from '../attempts/attempt-log';
import { errorLabel } from '../delivery/endpoint-worker';
import type { EndpointHealth } from '../delivery/endpoint-health';
import { Endpoint, ENDPOINT_ID, EndpointView, endpointView, newEndpointId } from '../endpoints/endpoint';
import { ActiveEndpoint, EndpointRegistry } from '../endpoints/endpoint-registry';
import { RevisionConflict } from '../endpoints/endpoint-store';
import type { AddressPolicy } from '../http/address-policy';
import type { SafeHttpClient } from '../http/safe-http.client';
import type { DeliveryQueue, QueuedJob } from '../queue/delivery-queue';
import { generateWebhookSecret } from '../signing/webhook-secret';
import { CreateEndpointRequest, PatchEndpointRequest } from './endpoint-request';

/** How long the previous secret keeps signing after a rotation (SPEC: 24 h). */
export const ROTATION_OVERLAP_MS = 24 * 3600 * 1000;
/** Dead letters read per page of a replay, and at most in all. */
const REPLAY_PAGE = 1000;
const REPLAY_MAX = 100_000;

/** An endpoint with its current secret: the answer of create and rotate-secret only. */
export type EndpointWithSecret = EndpointView & { secret: string };

export interface AttemptPage {
  attempts: ListedAttempt[];
  /** `before` of the next page, null at the end. */
  next: string | null;
}

export interface ReplayResult {
  since: string;
  /** Messages queued again (each dead-lettered message once, whatever its count of dead letters). */
  replayed: number;
}

/** The endpoints API's work (SPEC "Outbound webhooks"); the controller only parses and delegates. */
export class EndpointsService {
  constructor(
    private readonly registry: EndpointRegistry,
    private readonly queue: DeliveryQueue,
    private readonly attempts: AttemptLog,
    private readonly policy: AddressPolicy,
    private readonly client: SafeHttpClient,
    private readonly health: EndpointHealth,
    private readonly metrics: Metrics,
    private readonly logger: EngineLogger,
  ) {}

  async create(request: CreateEndpointRequest): Promise<EndpointWithSecret> {
    const url = this.checkUrl(request.url);
    const now = new Date().toISOString();
    const secret = request.secret ?? generateWebhookSecret();
    const endpoint: Endpoint = {
      id: newEndpointId(),
      url,
      description: request.description ?? '',
      events: dedupe(request.events),
      format: request.format ?? 'standard',
      disabled: request.disabled ?? false,
      ...(request.disabled === true ? { disabledReason: 'manual' as const, disabledAt: now } : {}),
      ...(request.rateLimitPerSecond === undefined ? {} : { rateLimitPerSecond: request.rateLimitPerSecond }),
      secrets: [{ secret }],
      createdAt: now,
      updatedAt: now,
    };
    const revision = await this.store(() => this.registry.store.create(endpoint));
    // Seen here at once (the watch brings it to the other replicas).
    this.registry.apply({ kind: 'put', endpoint, revision });
    this.logger.info({ endpointId: endpoint.id, events: endpoint.events }, 'endpoint created');
    return { ...endpointView(endpoint), secret };
  }

  async list(): Promise<{ endpoints: EndpointView[] }> {
    const all = await this.store(() => this.registry.store.list());
    const now = Date.now();
    return {
      endpoints: all
        .map((s) => endpointView(s.endpoint, now))
        .sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.id.localeCompare(b.id)),
    };
  }

  async get(id: string): Promise<EndpointView> {
    return endpointView(await this.load(id));
  }

  async update(id: string, patch: PatchEndpointRequest): Promise<EndpointView> {
    this.checkId(id);
    const url = patch.url === undefined ? undefined : this.checkUrl(patch.url);
    const result = await this.mutate(id, (e) => {
      const now = new Date().toISOString();
      const next: Endpoint = { ...e, updatedAt: now };
      if (url !== undefined) next.url = url;
      if (patch.events !== undefined) next.events = dedupe(patch.events);
      if (patch.description !== undefined) next.description = patch.description;
      if (patch.format !== undefined) next.format = patch.format;
      if (patch.rateLimitPerSecond === null) delete next.rateLimitPerSecond;
      else if (patch.rateLimitPerSecond !== undefined) next.rateLimitPerSecond = patch.rateLimitPerSecond;
      if (patch.disabled === true && !e.disabled) {
        next.disabled = true;
        next.disabledReason = 'manual';
        next.disabledAt = now;
      } else if (patch.disabled === false && e.disabled) {
        // Enabled again: a fresh start for the failing clock too.
        next.disabled = false;
        delete next.disabledReason;
        delete next.disabledAt;
        delete next.failingSince;
      }
      return next;
    });
    return endpointView(result.after);
  }

  async delete(id: string): Promise<void> {
    this.checkId(id);
    const existed = await this.store(() => this.registry.store.delete(id));
    if (existed) this.registry.apply({ kind: 'delete', id, revision: Number.MAX_SAFE_INTEGER });
    // Also for an unknown id: finishes a delete whose cleanup failed earlier.
    try {
      await retry(() => this.queue.removeEndpoint(id));
      await retry(() => this.attempts.removeEndpoint(id));
    } catch (err) {
      this.logger.error({ endpointId: id, err: (err as Error).message }, 'endpoint queue or log not removed');
      throw new SwitchboardError(
        'unavailable',
        `endpoint ${existed ? 'deleted, but its' : 'unknown; its'} queue was not purged: DELETE again to finish`,
        {
          cause: err,
        },
      );
    }
    if (!existed) throw new SwitchboardError('not_found', `no endpoint ${id}`);
    this.logger.info({ endpointId: id }, 'endpoint deleted');
  }

  async rotateSecret(id: string, supplied?: string): Promise<EndpointWithSecret> {
    this.checkId(id);
    const secret = supplied ?? generateWebhookSecret();
    const result = await this.mutate(id, (e) => {
      const now = Date.now();
      const expiresAt = new Date(now + ROTATION_OVERLAP_MS).toISOString();
      // The current secret keeps signing for the overlap; anything older is dropped now.
      return { ...e, secrets: [{ secret }, { secret: e.secrets[0].secret, expiresAt }], updatedAt: new Date(now).toISOString() };
    });
    this.logger.info({ endpointId: id }, 'endpoint secret rotated');
    return { ...endpointView(result.after), secret };
  }

  async listAttempts(id: string, query: { status?: 'failed' | 'succeeded'; limit: number; before?: string }): Promise<AttemptPage> {
    await this.load(id);
    const attempts = await this.store(() => this.attempts.list(id, query));
    return { attempts, next: attempts.length === query.limit ? attempts[attempts.length - 1].id : null };
  }

  /** Queues every message dead-lettered for the endpoint since `since` once more, each once. */
  async replay(id: string, since: number): Promise<ReplayResult> {
    const endpoint = await this.load(id);
    if (endpoint.disabled) {
      throw new SwitchboardError('bad_request', 'endpoint is disabled: enable it first (PATCH {"disabled":false}), then replay');
    }
    const replayId = randomBytes(6).toString('hex');
    const seen = new Set<string>();
    let from = since;
    for (;;) {
      const page = await this.store(() => this.queue.deadLetters(id, from, REPLAY_PAGE));
      const jobs: QueuedJob[] = [];
      for (const d of page) {
        if (seen.has(d.webhookId) || seen.size >= REPLAY_MAX) continue;
        seen.add(d.webhookId);
        jobs.push({
          job: {
            webhookId: d.webhookId,
            endpointId: id,
            attempt: 1,
            eventId: d.eventId,
            eventType: d.eventType,
            queuedAt: Date.now(),
            body: Buffer.from(d.body, 'utf8'),
            run: replayId,
          },
          // New per replay (the original's id would be a duplicate), fixed within it (a retried page is stored once).
          dedupeId: `${d.webhookId}:replay:${replayId}`,
        });
      }
      if (jobs.length > 0) await this.store(() => this.queue.enqueue(jobs));
      if (page.length < REPLAY_PAGE || jobs.length === 0 || seen.size >= REPLAY_MAX) break;
      from = Date.parse(page[page.length - 1].deadLetteredAt);
    }
    this.metrics.outboundMessages.inc({ result: 'replayed' }, seen.size);
    this.logger.info({ endpointId: id, since: new Date(since).toISOString(), replayed: seen.size }, 'endpoint replay');
    return { since: new Date(since).toISOString(), replayed: seen.size };
  }

  /** One signed attempt of a `switchboard.endpoint.test` event, now, without retries; logged like any attempt. */
  async test(id: string): Promise<{ attempt: DeliveryAttempt }> {
    const endpoint = await this.load(id);
    const active = new ActiveEndpoint(endpoint, 0);
    const eventId = 'test_' + randomBytes(8).toString('hex');
    const startedAt = Date.now();
    const body = active.format.body({
      id: eventId,
      source: 'switchboard/notifier',
      type: 'switchboard.endpoint.test',
      timestamp: new Date(startedAt).toISOString(),
      data: { endpointId: id, message: 'A test event from Switchboard' },
    });
    const webhookId = 'msg_' + randomBytes(16).toString('hex');
    const headers = active.format.headers({ webhookId, timestamp: Math.floor(startedAt / 1000), body }, active.signingKeys(startedAt));
    const outcome = await this.client.post(endpoint.url, headers, body);
    this.metrics.outboundAttempts.inc({ outcome: outcome.ok ? 'succeeded' : 'failed', error: errorLabel(outcome) });
    const attempt: DeliveryAttempt = {
      webhookId,
      endpointId: id,
      eventId,
      eventType: 'switchboard.endpoint.test',
      attempt: 1,
      status: outcome.ok ? 'succeeded' : 'failed',
      at: new Date(startedAt).toISOString(),
      durationMs: outcome.durationMs,
      test: true,
      ...(outcome.statusCode === undefined ? {} : { statusCode: outcome.statusCode }),
      ...(outcome.error === undefined ? {} : { error: `${outcome.error.code}: ${outcome.error.message}` }),
      ...(outcome.body === undefined || outcome.body.length === 0
        ? {}
        : { responseBody: outcome.body.subarray(0, LOGGED_BODY_BYTES).toString('utf8') }),
    };
    await this.attempts.record(attempt).catch((err: unknown) => this.logger.warn({ err: (err as Error).message }, 'attempt not logged'));
    if (outcome.statusCode === 410) await this.health.disable(id, 'gone', 410);
    return { attempt };
  }

  /** True when some enabled endpoint will take `event` (the notifier need not dead-letter it as unroutable). */
  wants(event: CloudEvent): boolean {
    return this.registry.match(event.type).length > 0;
  }

  private async load(id: string): Promise<Endpoint> {
    this.checkId(id);
    const stored = await this.store(() => this.registry.store.get(id));
    if (stored === undefined) throw new SwitchboardError('not_found', `no endpoint ${id}`);
    return stored.endpoint;
  }

  private async mutate(id: string, change: (e: Endpoint) => Endpoint): Promise<{ before: Endpoint; after: Endpoint }> {
    const result = await this.store(() => this.registry.mutate(id, change));
    if (result === undefined) throw new SwitchboardError('not_found', `no endpoint ${id}`);
    return result;
  }

  private checkId(id: string): void {
    if (!ENDPOINT_ID.test(id)) throw new SwitchboardError('not_found', `no endpoint ${JSON.stringify(id.slice(0, 64))}`);
  }

  private checkUrl(text: string): string {
    const checked = this.policy.checkUrl(text);
    if ('problem' in checked) throw new SwitchboardError('bad_request', `url ${checked.problem.message}`);
    return checked.url.href;
  }

  /** A registry, queue or log call: a backend failure is a 503, never a 500. */
  private async store<T>(call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof SwitchboardError) throw err;
      if (err instanceof RevisionConflict)
        throw new SwitchboardError('unavailable', 'endpoint changed concurrently, try again', { cause: err });
      this.logger.error({ err: (err as Error).message }, 'endpoint store unavailable');
      throw new SwitchboardError('unavailable', 'endpoint registry unavailable', { cause: err });
    }
  }
}

function dedupe(values: readonly string[]): string[] {
  return [...new Set(values)];
}

async function retry(call: () => Promise<void>): Promise<void> {
  for (let i = 1; ; i++) {
    try {
      return await call();
    } catch (err) {
      if (i >= 3) throw err;
      await sleep(200 * i);
    }
  }
}
