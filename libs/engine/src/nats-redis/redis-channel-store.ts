import { StreamPosition } from '@switchboard/protocol';
import type { Redis } from 'ioredis';
import { HistoryResult, PublishRequest } from '../channel-engine';
import { ChannelStore, isCompleteRecovery, JsonParts, RetentionOptions, StoreWriteResult } from '../channel-store';
import { newEpoch } from '../epoch';
import { StoredMessage } from '../stored-message';
import { PUBLISH_SCRIPT, READ_SCRIPT } from './redis-scripts';

type Reply = Array<string | number>;

interface ScriptCommands {
  sbPublish(...args: Array<string | number>): Promise<Reply>;
  sbRead(...args: Array<string | number>): Promise<Reply>;
}

/** The channel store on Redis: one Lua script per publish, one per read. */
export class RedisChannelStore implements ChannelStore {
  private readonly scripts: ScriptCommands;

  constructor(
    private readonly redis: Redis,
    private readonly retention: RetentionOptions,
    /** Prefix of every key (tests use their own). */
    private readonly keyPrefix = 'sb:',
  ) {
    redis.defineCommand('sbPublish', { numberOfKeys: 3, lua: PUBLISH_SCRIPT });
    redis.defineCommand('sbRead', { numberOfKeys: 2, lua: READ_SCRIPT });
    this.scripts = redis as unknown as ScriptCommands;
  }

  /** The Redis keys of a channel: meta hash, history stream, and the idempotency-key prefix. */
  keys(channel: string): { meta: string; history: string; idempotency: string } {
    const base = `${this.keyPrefix}{${channel}}:`;
    return { meta: base + 'm', history: base + 'h', idempotency: base + 'i:' };
  }

  async publish(request: PublishRequest, parts: JsonParts, receivedAt: number): Promise<StoreWriteResult> {
    const keys = this.keys(request.channel);
    const key = request.idempotencyKey;
    const reply = await this.scripts.sbPublish(
      keys.meta,
      keys.history,
      keys.idempotency + (key ?? ''),
      newEpoch(),
      parts.head,
      parts.tail,
      receivedAt,
      this.retention.historySize,
      this.retention.historyTtlSeconds,
      this.retention.channelMetaTtlSeconds,
      key === undefined ? '' : this.retention.idempotencyWindowSeconds,
    );
    const epoch = String(reply[1]);
    const offset = Number(reply[2]);
    const result = { channel: request.channel, offset, epoch, duplicate: reply[0] === 0 };
    if (reply[3] === undefined) return { result };
    const stamp = result.duplicate ? Number(reply[4]) : receivedAt;
    return { result, message: new StoredMessage(request.channel, offset, epoch, String(reply[3]), stamp) };
  }

  async history(channel: string, since?: StreamPosition): Promise<HistoryResult> {
    const reply = await this.read(channel, since, true);
    return this.toHistory(channel, reply, since);
  }

  async positions(channels: readonly string[]): Promise<StreamPosition[]> {
    if (channels.length === 1) {
      const reply = await this.read(channels[0], undefined, false);
      return [{ epoch: String(reply[0]), offset: Number(reply[1]) }];
    }
    const pipeline = this.redis.pipeline();
    for (const channel of channels) {
      const keys = this.keys(channel);
      void (pipeline as unknown as ScriptCommands).sbRead(
        keys.meta,
        keys.history,
        newEpoch(),
        this.retention.channelMetaTtlSeconds,
        '',
        '',
        '0',
      );
    }
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, reply]) => {
      if (err) throw err;
      const r = reply as Reply;
      return { epoch: String(r[0]), offset: Number(r[1]) };
    });
  }

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  async close(): Promise<void> {
    // The connection belongs to whoever created it (it may be shared).
  }

  private read(channel: string, since: StreamPosition | undefined, messages: boolean): Promise<Reply> {
    const keys = this.keys(channel);
    return this.scripts.sbRead(
      keys.meta,
      keys.history,
      newEpoch(),
      this.retention.channelMetaTtlSeconds,
      since?.epoch ?? '',
      since === undefined ? '' : since.offset,
      messages ? '1' : '0',
    );
  }

  private toHistory(channel: string, reply: Reply, since: StreamPosition | undefined): HistoryResult {
    const position = { epoch: String(reply[0]), offset: Number(reply[1]) };
    const messages: StoredMessage[] = [];
    for (let i = 2; i + 2 < reply.length; i += 3) {
      const id = String(reply[i]);
      const offset = Number(id.slice(0, id.indexOf('-')));
      messages.push(new StoredMessage(channel, offset, position.epoch, String(reply[i + 1]), Number(reply[i + 2])));
    }
    const recovered = since === undefined ? true : isCompleteRecovery(since, position, messages[0]?.offset);
    return { position, messages, recovered };
  }
}
