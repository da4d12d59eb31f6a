import { ChannelMessage } from '@switchboard/protocol';

/**
 * Something that turns a message into one transport's bytes. Transports keep one
 * encoder object each; `StoredMessage.encoded` runs it at most once per message, so a
 * broadcast to many recipients encodes once.
 */
export interface MessageEncoder<T> {
  encode(message: StoredMessage): T;
}

/**
 * A message as the engine stores and fans it out: the client-facing JSON (built once at
 * publish) plus the head fields every hop needs, so no hop re-parses or re-serialises.
 */
export class StoredMessage {
  private encodings?: Map<MessageEncoder<unknown>, unknown>;
  private parsedValue?: ChannelMessage;

  constructor(
    readonly channel: string,
    readonly offset: number,
    readonly epoch: string,
    /** The message JSON exactly as delivered to clients (SPEC "Message as delivered"). */
    readonly json: string,
    /** When the event first entered Switchboard (webhook receipt or publish call), ms. */
    readonly receivedAt: number,
  ) {}

  /** This message encoded by `encoder`, computed once and shared by every recipient. */
  encoded<T>(encoder: MessageEncoder<T>): T {
    this.encodings ??= new Map();
    let value = this.encodings.get(encoder) as T | undefined;
    if (value === undefined) {
      value = encoder.encode(this);
      this.encodings.set(encoder, value);
    }
    return value;
  }

  /** The parsed message (lazily; the hot path never needs it). */
  get message(): ChannelMessage {
    return (this.parsedValue ??= JSON.parse(this.json) as ChannelMessage);
  }
}
