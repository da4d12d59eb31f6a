import type { EndpointFormat } from '../endpoints/endpoint';
import { PusherWebhooksFormat } from './pusher-webhooks.format';
import { StandardWebhooksFormat } from './standard-webhooks.format';
import type { WebhookFormat } from './webhook-format';

/** Every endpoint format's implementation, by name. */
export const WEBHOOK_FORMATS: Readonly<Record<EndpointFormat, WebhookFormat>> = {
  standard: new StandardWebhooksFormat(),
  pusher: new PusherWebhooksFormat(),
};
