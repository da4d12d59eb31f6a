import './node-guard';
import 'reflect-metadata';
import { loadWebhookSources } from '@switchboard/config';
import { writeAfterLogs } from '@switchboard/observability';
import { runMain } from '@switchboard/platform';
import { existsSync } from 'node:fs';
import { join, relative } from 'node:path';
import { consolePath } from './console-redirect.controller';
import { DEV_SECRET_NAMES, isProduction, provideDevSecrets } from './dev-secrets';
import { devBanner, devToken } from './dev-hints';
import { standaloneDefinition } from './standalone.definition';

// Development: keys left unset are generated once and kept in .switchboard/ (never in production).
const supplied = DEV_SECRET_NAMES.filter((name) => (process.env[name] ?? '').trim() !== '');
const dev = provideDevSecrets(process.env);

runMain(standaloneDefinition, (service) => {
  const { config, logger } = service.platform;
  const generated = Object.keys(dev.generated);
  const keepProblem = dev.save();
  if (generated.length > 0) {
    const keptIn = relative(process.cwd(), dev.file);
    logger.warn(
      { generated, keptIn, problem: keepProblem },
      'development keys in use (generated because unset); set them for anything real',
    );
  }
  // The banner holds keys: only for a developer's terminal, never for a production log.
  if (isProduction(process.env)) return;
  void bannerToken(dev.generated.JWT_SECRET).then((token) => {
    const local = join(process.cwd(), 'node_modules', '.bin', 'node');
    const banner = devBanner({
      url: service.url,
      engine: service.platform.runtime.mode,
      consolePath: consolePath(config),
      token,
      publishKey: dev.generated.PUBLISH_API_KEY,
      adminKey: dev.generated.ADMIN_API_KEY,
      keptIn: relative(process.cwd(), dev.file),
      keepProblem,
      supplied: [...supplied, ...(config.JWT_JWKS_URL !== undefined && !supplied.includes('JWT_SECRET') ? ['JWT_JWKS_URL'] : [])],
      node: existsSync(local) ? local : process.execPath,
      webhookSources: loadWebhookSources(config),
    });
    // Log lines go out asynchronously: the banner goes the same way, so it follows "listening".
    writeAfterLogs(logger, banner + '\n');
  });
});

/** A token only when this process made the secret up: one signed with the operator's secret would be a credential in a log. */
function bannerToken(secret: string | undefined): Promise<string | undefined> {
  return secret === undefined ? Promise.resolve(undefined) : devToken(secret);
}
