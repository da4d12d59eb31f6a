import { DEFAULT_WEBHOOK_RATE_LIMIT, WebhookSource } from '@switchboard/config';
import { createVerifier } from '../verifiers/verifier.factory';
import type { WebhookVerifier } from '../verifiers/verifier';
import { AddressList } from '@switchboard/platform';
import type { RateLimit } from './rate-limiter';

/** A configured source, ready to check requests. */
export interface RegisteredSource {
  readonly name: string;
  readonly config: WebhookSource;
  readonly verifier: WebhookVerifier;
  /** Addresses allowed to post; undefined: any. */
  readonly allow?: AddressList;
  /** undefined: not limited. */
  readonly rateLimit?: RateLimit;
}

/** The configured sources by name (the `:source` route segment). */
export class SourceRegistry {
  private readonly sources = new Map<string, RegisteredSource>();

  constructor(sources: readonly WebhookSource[]) {
    for (const config of sources) {
      this.sources.set(config.name, {
        name: config.name,
        config,
        verifier: createVerifier(config),
        allow: config.allowCidrs === undefined ? undefined : new AddressList(config.allowCidrs),
        rateLimit: rateLimitOf(config.rateLimit),
      });
    }
  }

  get(name: string): RegisteredSource | undefined {
    return this.sources.get(name);
  }

  list(): RegisteredSource[] {
    return [...this.sources.values()];
  }
}

function rateLimitOf(setting: WebhookSource['rateLimit']): RateLimit | undefined {
  if (setting === false) return undefined;
  const perSecond = setting.perSecond ?? DEFAULT_WEBHOOK_RATE_LIMIT.perSecond;
  return { perSecond, burst: setting.burst ?? Math.max(1, Math.ceil(2 * perSecond)) };
}
