import 'reflect-metadata';
import { runMain } from '@switchboard/platform';
import { randomBytes } from 'node:crypto';
import { devBanner, devToken } from './dev-hints';
import { standaloneDefinition } from './standalone.definition';

// Development defaults: without a configured key, make one for this run and print it.
const generated: string[] = [];
if (!process.env.JWT_SECRET && !process.env.JWT_JWKS_URL) {
  process.env.JWT_SECRET = randomBytes(32).toString('base64url');
  generated.push('JWT_SECRET');
}
if (!process.env.PUBLISH_API_KEY) {
  process.env.PUBLISH_API_KEY = 'dev-' + randomBytes(16).toString('base64url');
  generated.push('PUBLISH_API_KEY');
}

runMain(standaloneDefinition, (service) => {
  const { config } = service.platform;
  if (generated.length > 0) {
    service.platform.logger.warn({ generated }, 'development keys generated for this run; set them for anything real');
  }
  if (config.JWT_SECRET === undefined) return;
  void devToken(config.JWT_SECRET).then((token) => {
    process.stdout.write(devBanner(service.url, token, config.PUBLISH_API_KEY, service.platform.runtime.mode) + '\n');
  });
});
