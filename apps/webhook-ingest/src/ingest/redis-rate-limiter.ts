import type { RedisClient } from '@switchboard/engine';
import { RateLimit, RateLimiter } from './rate-limiter';

/** GCRA on the Redis clock (replicas' clocks may differ): returns the wait in ms, 0 = allowed. */
const TAKE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local wait = tat - tolerance - now
if wait > 0 then return math.ceil(wait) end
local nextTat = tat + interval
redis.call('SET', KEYS[1], string.format('%.3f', nextTat), 'PX', math.ceil(nextTat - now) + 1)
return 0
`;

/** Moves the TAT back one interval; a bucket that becomes full is deleted (the same as absent). */
const REFUND_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') - tonumber(ARGV[1])
if tat <= now then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], string.format('%.3f', tat), 'PX', math.ceil(tat - now) + 1)
end
return 0
`;

interface Commands {
  sbWebhookRateTake(key: string, intervalMs: number, toleranceMs: number): Promise<number>;
  sbWebhookRateRefund(key: string, intervalMs: number): Promise<number>;
}

/**
 * A limiter shared by every webhook-ingest replica: one Redis key per bucket, named by
 * `keyOf`, expiring once the bucket is full again (an idle client leaves nothing behind).
 */
export class RedisRateLimiter implements RateLimiter {
  private readonly commands: Commands;

  constructor(
    redis: RedisClient,
    private readonly keyOf: (key: string) => string,
  ) {
    redis.defineCommand('sbWebhookRateTake', { numberOfKeys: 1, lua: TAKE_SCRIPT });
    redis.defineCommand('sbWebhookRateRefund', { numberOfKeys: 1, lua: REFUND_SCRIPT });
    this.commands = redis as unknown as Commands;
  }

  async take(key: string, limit: RateLimit): Promise<number> {
    const interval = 1000 / limit.perSecond;
    return Number(await this.commands.sbWebhookRateTake(this.keyOf(key), interval, (limit.burst - 1) * interval));
  }

  async refund(key: string, limit: RateLimit): Promise<void> {
    await this.commands.sbWebhookRateRefund(this.keyOf(key), 1000 / limit.perSecond);
  }
}
