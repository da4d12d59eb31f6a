import type { ChannelEngine } from '@switchboard/engine';
import { isSwitchboardError } from '@switchboard/protocol';
import { PublishCommand } from './publish-request';

/** Answer of `POST /v1/publish`: the offset each channel gave the message. */
export interface PublishReply {
  offsets: Record<string, number>;
}

/**
 * The HTTP publish API's work: one engine publish per channel, in parallel. The first
 * failure is the answer (503 when the engine is unavailable); channels that took the
 * message keep it, so callers that retry send an `idempotencyKey` to avoid duplicates.
 */
export class PublishService {
  /** `onTooLarge`: a message over MAX_MESSAGE_BYTES once built (counted once per request). */
  constructor(
    private readonly engine: ChannelEngine,
    private readonly onTooLarge: () => void = () => undefined,
  ) {}

  async publish(command: PublishCommand, receivedAt: number): Promise<PublishReply> {
    let results;
    try {
      results = await Promise.all(
        command.channels.map((channel) =>
          this.engine.publish({ channel, data: command.data, idempotencyKey: command.idempotencyKey, receivedAt }),
        ),
      );
    } catch (err) {
      if (isSwitchboardError(err, 'too_large')) this.onTooLarge();
      throw err;
    }
    const offsets: Record<string, number> = {};
    for (const r of results) offsets[r.channel] = r.offset;
    return { offsets };
  }
}
