import { createSecretKey, KeyObject, randomBytes } from 'node:crypto';

const PREFIX = 'whsec_';
/** Key sizes SPEC allows (bytes), for generated and supplied secrets alike. */
export const MIN_SECRET_BYTES = 24;
export const MAX_SECRET_BYTES = 64;
/** Bytes of a generated key. */
const GENERATED_BYTES = 32;

/** A new `whsec_<base64>` secret of 32 random bytes. */
export function generateWebhookSecret(): string {
  return PREFIX + randomBytes(GENERATED_BYTES).toString('base64');
}

/** Why `secret` is not a usable Standard Webhooks secret, or undefined. */
export function webhookSecretError(secret: unknown): string | undefined {
  if (typeof secret !== 'string' || !secret.startsWith(PREFIX)) return 'must be a string "whsec_<base64 key>"';
  const encoded = secret.slice(PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) return 'must be "whsec_" followed by standard base64';
  const bytes = Buffer.from(encoded, 'base64').length;
  if (bytes < MIN_SECRET_BYTES || bytes > MAX_SECRET_BYTES) {
    return `must hold a key of ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes (this one has ${bytes})`;
  }
  return undefined;
}

/** The HMAC key of a secret: the base64-decoded part after `whsec_`. */
export function webhookSecretKey(secret: string): Buffer {
  return Buffer.from(secret.slice(PREFIX.length), 'base64');
}

/** The HMAC key as a KeyObject, made once per secret (signing with raw bytes converts them on every call). */
export function webhookSigningKey(secret: string): KeyObject {
  return createSecretKey(webhookSecretKey(secret));
}
