import { StreamPosition } from '@switchboard/protocol';
import { Cluster } from 'ioredis';
import type { RedisClient } from './connections';
import { ChannelNotFoundError, ChannelPosition, HistoryResult, PublishRequest, ReadOptions } from '../channel-engine';
import { ChannelStore, isCompleteRecovery, JsonParts, RetentionOptions, StoreWriteResult } from '../channel-store';
import { candidateEpoch } from '../epoch';
import { StoredMessage } from '../stored-message';
import { coalesceWrites } from './connections';
import { PUBLISH_SCRIPT, READ_SCRIPT } from './redis-scripts';

type Reply = Array<string | number>;

interface ScriptCommands {
  sbPublish(...args: Array<string | number>): Promise<Reply>;
  sbRead(...args: Array<string | number>): Promise<Reply>;
}

/** The channel store on Redis: one Lua script per publish, one per read (`redis-scripts.ts`). */
export class RedisChannelStore implements ChannelStore {
  private readonly scripts: ScriptCommands;

  constructor(
    private readonly redis: RedisClient,
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
    coalesceWrites(this.redis);
    const reply = await this.scripts.sbPublish(
      keys.meta,
      keys.history,
      keys.idempotency + (key ?? ''),
      candidateEpoch(),
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

  async history(channel: string, since?: StreamPosition, options?: ReadOptions): Promise<HistoryResult> {
    const reply = await this.scripts.sbRead(...this.readArgs(channel, since, true, options));
    return this.toHistory(channel, reply, since);
  }

  async positions(channels: readonly string[], options?: ReadOptions): Promise<ChannelPosition[]> {
    if (this.redis instanceof Cluster) {
      // A Cluster pipeline must stay on one node; one command per channel instead, which the
      // client's auto-pipelining batches per node.
      return Promise.all(
        channels.map(async (channel) =>
          this.toPosition(channel, await this.scripts.sbRead(...this.readArgs(channel, undefined, false, options))),
        ),
      );
    }
    if (channels.length === 1) {
      const reply = await this.scripts.sbRead(...this.readArgs(channels[0], undefined, false, options));
      return [this.toPosition(channels[0], reply)];
    }
    const pipeline = this.redis.pipeline();
    for (const channel of channels)
      void (pipeline as unknown as ScriptCommands).sbRead(...this.readArgs(channel, undefined, false, options));
    const results = (await pipeline.exec()) ?? [];
    return results.map(([err, reply], i) => {
      if (err) throw err;
      return this.toPosition(channels[i], reply as Reply);
    });
  }

  isReady(): boolean {
    return this.redis.status === 'ready';
  }

  async close(): Promise<void> {
    // The connection belongs to whoever created it (it may be shared).
  }

  private readArgs(
    channel: string,
    since: StreamPosition | undefined,
    messages: boolean,
    options: ReadOptions | undefined,
  ): Array<string | number> {
    const keys = this.keys(channel);
    return [
      keys.meta,
      keys.history,
      candidateEpoch(),
      this.retention.channelMetaTtlSeconds,
      this.retention.historyTtlSeconds,
      since?.epoch ?? '',
      since === undefined ? '' : since.offset,
      messages ? '1' : '0',
      options?.create === false ? '0' : '1',
    ];
  }

  private toPosition(channel: string, reply: Reply): ChannelPosition {
    if (reply.length === 0) throw new ChannelNotFoundError(channel);
    const position: ChannelPosition = { epoch: String(reply[0]), offset: Number(reply[1]) };
    if (reply[2] === 1) position.created = true;
    return position;
  }

  private toHistory(channel: string, reply: Reply, since: StreamPosition | undefined): HistoryResult {
    if (reply.length === 0) throw new ChannelNotFoundError(channel);
    const position = { epoch: String(reply[0]), offset: Number(reply[1]) };
    const messages: StoredMessage[] = [];
    for (let i = 3; i + 2 < reply.length; i += 3) {
      const id = String(reply[i]);
      const offset = Number(id.slice(0, id.indexOf('-')));
      messages.push(new StoredMessage(channel, offset, position.epoch, String(reply[i + 1]), Number(reply[i + 2])));
    }
    const recovered = since === undefined ? true : isCompleteRecovery(since, position, messages[0]?.offset);
    const result: HistoryResult = { position, messages, recovered };
    if (reply[2] === 1) result.created = true;
    return result;
  }
}
