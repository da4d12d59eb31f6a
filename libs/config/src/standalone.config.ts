import { z } from 'zod';
import { engineEnv, refineEngine, serviceEnv } from './common.config';
import { gatewayEnv, refineAuth } from './gateway.config';
import { notifierEnv, refineNotifier } from './notifier.config';
import { refinePresence } from './presence.config';
import { refineWebhookIngest, webhookIngestEnv } from './webhook-ingest.config';

/** The single process (`npm start`): every service's settings. */
export const standaloneSchema = z
  .object({ ...serviceEnv, ...engineEnv, ...gatewayEnv, ...webhookIngestEnv, ...notifierEnv })
  .superRefine((c, ctx) => {
    refineEngine(c, ctx);
    refineAuth(c, ctx);
    refineWebhookIngest(c, ctx);
    refineNotifier(c, ctx);
    refinePresence(c, ctx);
  });

export type StandaloneConfig = z.output<typeof standaloneSchema>;
