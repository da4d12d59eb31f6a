import { randomBytes } from 'node:crypto';

/** A new channel epoch: short, URL-safe, and different each time a channel's state is created. */
export function newEpoch(): string {
  return randomBytes(6).toString('base64url');
}
