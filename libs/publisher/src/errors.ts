/**
 * - `invalid_event`: the event cannot be published as given (bad type, channel, subject or
 *   data); retrying the same call fails the same way.
 * - `unavailable`: JetStream did not confirm the publish (NATS unreachable, no stream for
 *   the subject, timeout). Retrying with the same `id` is safe: JetStream drops duplicates.
 * - `closed`: the publisher was closed.
 */
export type PublisherErrorCode = 'invalid_event' | 'unavailable' | 'closed';

/** Every failure of the publisher; `cause` keeps the underlying NATS error. */
export class PublisherError extends Error {
  override readonly name = 'PublisherError';

  constructor(
    readonly code: PublisherErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
