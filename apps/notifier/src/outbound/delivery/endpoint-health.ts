import type { EngineLogger } from '@switchboard/engine';
import type { DisabledReason } from '../endpoints/endpoint';
import type { ActiveEndpoint, EndpointRegistry } from '../endpoints/endpoint-registry';
import type { OutboundNotices } from './outbound-notices';

/**
 * Endpoint state that outlives one attempt and is shared by replicas through the registry:
 * `failingSince` (set by the first failure after a success, cleared by a success) and
 * disabling, with its notice. Writes happen on transitions only, not per attempt.
 */
export class EndpointHealth {
  constructor(
    private readonly registry: EndpointRegistry,
    private readonly notices: OutboundNotices,
    private readonly logger: EngineLogger,
    /** OUTBOUND_DISABLE_AFTER_HOURS in ms; 0 never disables. */
    private readonly disableAfterMs: number,
  ) {}

  async succeeded(active: ActiveEndpoint): Promise<void> {
    if (active.endpoint.failingSince === undefined) return;
    await this.registry.mutate(active.id, (e) =>
      e.failingSince === undefined ? undefined : { ...e, failingSince: undefined, updatedAt: new Date().toISOString() },
    );
  }

  /** Records a failure at `at`; true when the endpoint is now disabled for failing too long. */
  async failed(active: ActiveEndpoint, at: number): Promise<boolean> {
    let since = active.endpoint.failingSince === undefined ? undefined : Date.parse(active.endpoint.failingSince);
    if (since === undefined) {
      const result = await this.registry.mutate(active.id, (e) =>
        e.failingSince !== undefined ? undefined : { ...e, failingSince: new Date(at).toISOString(), updatedAt: new Date().toISOString() },
      );
      since = result?.after.failingSince === undefined ? at : Date.parse(result.after.failingSince);
    }
    if (this.disableAfterMs <= 0 || at - since < this.disableAfterMs) return false;
    await this.disable(active.id, 'failing');
    return true;
  }

  /** Disables the endpoint; the replica whose write disabled it announces it. True when it is disabled now. */
  async disable(id: string, reason: DisabledReason, statusCode?: number): Promise<boolean> {
    const now = new Date().toISOString();
    const result = await this.registry.mutate(id, (e) =>
      e.disabled ? undefined : { ...e, disabled: true, disabledReason: reason, disabledAt: now, updatedAt: now },
    );
    if (result === undefined) return false;
    if (!result.before.disabled) {
      this.logger.warn({ endpointId: id, reason, statusCode }, 'endpoint disabled');
      await this.notices.disabled(
        {
          endpointId: id,
          url: result.after.url,
          reason,
          ...(result.after.failingSince === undefined ? {} : { failingSince: result.after.failingSince }),
          ...(statusCode === undefined ? {} : { statusCode }),
        },
        now,
      );
    }
    return true;
  }
}
