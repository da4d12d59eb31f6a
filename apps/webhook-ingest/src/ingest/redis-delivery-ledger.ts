import { coalesceWrites, type RedisClient } from '@switchboard/engine';
import { createHash } from 'node:crypto';
import { Admission, DeliveryLedger } from './delivery-ledger';

/**
 * KEYS[1] the delivery key, KEYS[2] (optional) the signature key; ARGV delivery id, TTL.
 * The signature is claimed for this delivery unless another one holds it (Redis < 7 lacks
 * SET NX GET), then the delivery key is looked up: one round trip per webhook.
 */
const ADMIT_SCRIPT = `
if KEYS[2] then
  local holder = redis.call('GET', KEYS[2])
  if holder and holder ~= ARGV[1] then return 'replayed' end
  if not holder then redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2]) end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return 'stored' end
return 'new'
`;

interface Commands {
  sbWebhookAdmit(numberOfKeys: number, ...keysAndArgs: Array<string | number>): Promise<Admission>;
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
    private readonly redis: RedisClient,
    private readonly keyPrefix: string,
    private readonly windowSeconds: number,
  ) {
    redis.defineCommand('sbWebhookAdmit', { lua: ADMIT_SCRIPT });
    this.commands = redis as unknown as Commands;
  }

  admit(source: string, deliveryId: string, signature?: string): Promise<Admission> {
    const delivery = this.key(source, 'd', deliveryId);
    // The admits and marks of concurrent webhooks leave in one write.
    coalesceWrites(this.redis);
    return signature === undefined
      ? this.commands.sbWebhookAdmit(1, delivery, deliveryId, this.windowSeconds)
      : this.commands.sbWebhookAdmit(2, delivery, this.key(source, 's', signature), deliveryId, this.windowSeconds);
  }

  async markStored(source: string, deliveryId: string): Promise<void> {
    coalesceWrites(this.redis);
    await this.redis.set(this.key(source, 'd', deliveryId), '1', 'EX', this.windowSeconds);
  }

  /** Hashed: delivery ids come from the sender (any length, any bytes). */
  private key(source: string, kind: 'd' | 's', value: string): string {
    return `${this.keyPrefix}webhook:{${source}}:${kind}:${createHash('sha256').update(value).digest('hex')}`;
  }
}
