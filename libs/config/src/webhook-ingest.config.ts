import { z } from 'zod';
import { engineEnv, refineEngine, serviceEnv } from './common.config';
import { envInt, envList, envOptionalString } from './env';

/** Settings of webhook-ingest (SPEC "Webhook ingest"). */
export const webhookIngestEnv = {
  /** Webhook sources file (YAML or JSON). */
  WEBHOOK_CONFIG: envOptionalString(),
  /** Webhook sources as JSON (instead of, or added to, WEBHOOK_CONFIG). */
  WEBHOOK_SOURCES: envOptionalString(),
  /** Largest webhook body, bytes (413 beyond). */
  WEBHOOK_MAX_BYTES: envInt(1_048_576, 1024, 64 * 1024 * 1024),
  /** Seconds a delivery id is remembered per source (Stripe retries for up to three days). */
  WEBHOOK_DEDUPE_SECONDS: envInt(259_200, 60, 30 * 86400),
  /** Proxies (CIDRs) whose X-Forwarded-For / X-Forwarded-Proto / X-Forwarded-Host are trusted. */
  TRUSTED_PROXIES: envList(),
};

export const webhookIngestSchema = z
  .object({ ...serviceEnv, ...engineEnv, ...webhookIngestEnv })
  .superRefine((c, ctx) => refineEngine(c, ctx));

export type WebhookIngestConfig = z.output<typeof webhookIngestSchema>;
