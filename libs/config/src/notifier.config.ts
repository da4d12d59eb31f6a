import { z } from 'zod';
import { engineEnv, refineEngine, serviceEnv } from './common.config';
import { envInt, envOptionalString, envString } from './env';

/** Settings of the notifier (SPEC "Event bus and notifier"). */
export const notifierEnv = {
  /** Route rules file (YAML or JSON): `routes: [{match: {type, source}, channels: [...]}]`. */
  ROUTES_CONFIG: envOptionalString(),
  /** Bearer key of the HTTP publish API (POST /v1/publish); the API answers 401 to everyone without it. */
  PUBLISH_API_KEY: envOptionalString(),
  /** Durable consumer name on EVENTS. */
  NOTIFIER_DURABLE: envString('notifier'),
  /** Seconds a delivery may stay unacknowledged before JetStream delivers it again. */
  NOTIFIER_ACK_WAIT_SECONDS: envInt(30, 1, 3600),
  /** Deliveries of one event before it goes to the dead-letter stream. */
  NOTIFIER_MAX_DELIVER: envInt(10, 1, 1000),
};

export const notifierSchema = z.object({ ...serviceEnv, ...engineEnv, ...notifierEnv }).superRefine((c, ctx) => refineEngine(c, ctx));

export type NotifierConfig = z.output<typeof notifierSchema>;
