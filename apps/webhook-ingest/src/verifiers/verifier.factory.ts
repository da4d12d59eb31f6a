import type { WebhookSource } from '@switchboard/config';
import { GithubVerifier } from './github.verifier';
import { HmacVerifier } from './hmac.verifier';
import { ShopifyVerifier } from './shopify.verifier';
import { SlackVerifier } from './slack.verifier';
import { StandardVerifier } from './standard.verifier';
import { StripeVerifier } from './stripe.verifier';
import { TwilioVerifier } from './twilio.verifier';
import type { WebhookVerifier } from './verifier';

/** The verifier of a configured source's provider. */
export function createVerifier(source: WebhookSource): WebhookVerifier {
  switch (source.provider) {
    case 'stripe':
      return new StripeVerifier(source);
    case 'github':
      return new GithubVerifier(source);
    case 'slack':
      return new SlackVerifier(source);
    case 'shopify':
      return new ShopifyVerifier(source);
    case 'standard':
      return new StandardVerifier(source);
    case 'twilio':
      return new TwilioVerifier(source);
    case 'hmac':
      return new HmacVerifier(source);
  }
}
