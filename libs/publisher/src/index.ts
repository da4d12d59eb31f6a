export { createPublisher } from './publisher';
export type { CloudEvent, Publisher, PublisherOptions, PublishInput, PublishReceipt } from './publisher';
export { PublisherError } from './errors';
export type { PublisherErrorCode } from './errors';
export { channelNameError, MAX_CHANNEL_LENGTH } from './channel-name';
