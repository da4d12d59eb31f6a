import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import { DeliveryLedger } from './delivery-ledger';

/** Sets the key unless it exists; returns the existing value, or nil when it set it (Redis < 7 lacks SET NX GET). */
const CLAIM_SCRIPT = `
local existing = redis.call('GET', KEYS[1])
if existing then return existing end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return false
`;

interface Commands {
  sbWebhookClaim(key: string, value: string, ttlSeconds: number): Promise<string | null>;
}

/**
 * The ledger shared by every replica. Keys (one hash slot per source):
 * `<prefix>webhook:{<source>}:d:<sha256(delivery id)>` and `…:s:<sha256(signature)>`,
 * each expiring after the dedupe window. Commands fail at once while Redis is down
 * (no offline queue): the ingest then answers 503 rather than risk a duplicate.
 */
export class RedisDeliveryLedger implements DeliveryLedger {
  private readonly commands: Commands;

  constructor(
    private readonly redis: Redis,
    private readonly keyPrefix: string,
    private readonly windowSeconds: number,
  ) {
    redis.defineCommand('sbWebhookClaim', { numberOfKeys: 1, lua: CLAIM_SCRIPT });
    this.commands = redis as unknown as Commands;
  }

  async isStored(source: string, deliveryId: string): Promise<boolean> {
    return (await this.redis.exists(this.key(source, 'd', deliveryId))) === 1;
  }

  async markStored(source: string, deliveryId: string): Promise<void> {
    await this.redis.set(this.key(source, 'd', deliveryId), '1', 'EX', this.windowSeconds);
  }

  async claimSignature(source: string, signature: string, deliveryId: string): Promise<boolean> {
    const previous = await this.commands.sbWebhookClaim(this.key(source, 's', signature), deliveryId, this.windowSeconds);
    return previous === null || previous === deliveryId;
  }

  /** Hashed: delivery ids come from the sender (any length, any bytes). */
  private key(source: string, kind: 'd' | 's', value: string): string {
    return `${this.keyPrefix}webhook:{${source}}:${kind}:${createHash('sha256').update(value).digest('hex')}`;
  }
}
