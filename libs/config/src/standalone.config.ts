import { z } from 'zod';
import { engineEnv, refineEngine, refineForwarding, refineService, serviceEnv } from './common.config';
import { gatewayEnv, refineGateway } from './gateway.config';
import { envBool } from './env';
import { notifierEnv, refineNotifier } from './notifier.config';
import { refinePresence } from './presence.config';
import { refineWebhookIngest, webhookIngestEnv } from './webhook-ingest.config';

/** The single process (`npm start`): every service's settings. */
export const standaloneSchema = z
  .object({
    ...serviceEnv,
    ...engineEnv,
    ...gatewayEnv,
    /** Serve the inspector page (`GET /inspect`): on in the single process, which is for development. */
    INSPECTOR_ENABLED: envBool(true),
    /** Serve the console (`/console`), behind ADMIN_API_KEY: on in the single process. */
    CONSOLE_ENABLED: envBool(true),
    ...webhookIngestEnv,
    ...notifierEnv,
  })
  .superRefine((c, ctx) => {
    refineService(c, ctx);
    refineEngine(c, ctx);
    refineForwarding(c, ctx);
    refineGateway(c, ctx);
    refineWebhookIngest(c, ctx);
    refineNotifier(c, ctx);
    refinePresence(c, ctx);
  });

export type StandaloneConfig = z.output<typeof standaloneSchema>;
