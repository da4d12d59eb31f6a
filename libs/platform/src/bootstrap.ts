import { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { CommonConfig, ConfigError, loadConfig } from '@switchboard/config';
import { afterLogsWritten } from '@switchboard/observability';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { startMetricsServer, type MetricsServer } from './metrics-server';
import { PinoNestLogger } from './nest-logger';
import { createPlatform, Platform } from './platform';
import { HttpErrorFilter } from './http-error.filter';
import { exitOnUnsupportedNode } from './node-version';

/** How one service process is assembled. */
export interface ServiceDefinition<C extends CommonConfig> {
  /** Service name in logs, metrics and client names (`gateway`, `webhook-ingest`, …). */
  name: string;
  schema: z.ZodType<C, unknown>;
  /** The root module for this platform. */
  module(platform: Platform<C>): DynamicModule;
  /** Adjusts the app before it listens (body parsers, upgrade handlers). */
  configure?(app: NestExpressApplication, platform: Platform<C>): void | Promise<void>;
}

export interface RunningService<C extends CommonConfig = CommonConfig> {
  readonly app: NestExpressApplication;
  readonly platform: Platform<C>;
  /** Base URL, e.g. `http://127.0.0.1:8080`. */
  readonly url: string;
  readonly port: number;
  /** Base URL of `/metrics` when METRICS_PORT is set (else `/metrics` is on `url`). */
  readonly metricsUrl?: string;
  /** Drains and stops the service (readiness off at once, then Nest shutdown hooks, then backends). */
  stop(): Promise<void>;
}

/** Starts a service in this process (also used by tests, with `PORT=0`). */
export async function startService<C extends CommonConfig>(
  definition: ServiceDefinition<C>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RunningService<C>> {
  const config = loadConfig(definition.schema, env);
  const platform = await createPlatform(definition.name, config);
  let app: NestExpressApplication;
  let metricsServer: MetricsServer | undefined;
  try {
    if (config.METRICS_PORT !== undefined) {
      metricsServer = await startMetricsServer(platform.metrics, platform.logger, config.HOST, config.METRICS_PORT);
    }
    app = await NestFactory.create<NestExpressApplication>(definition.module(platform), {
      logger: new PinoNestLogger(platform.logger),
      rawBody: true,
      bodyParser: false,
      forceCloseConnections: true,
    });
    app.disable('x-powered-by');
    // One error body shape for every route of every service (docs/PROTOCOL.md "Errors").
    app.useGlobalFilters(new HttpErrorFilter(platform.logger));
    await definition.configure?.(app, platform);
    await app.listen(config.PORT, config.HOST);
  } catch (err) {
    await metricsServer?.close();
    await platform.runtime.close();
    throw err;
  }
  const address = app.getHttpServer().address() as AddressInfo;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  const url = `http://${host}:${address.port}`;
  const metricsUrl = metricsServer && `http://${host}:${metricsServer.port}`;
  platform.logger.info({ url, metricsUrl, engine: platform.runtime.mode }, `${definition.name} listening`);
  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      platform.lifecycle.startDrain();
      await app.close();
      await metricsServer?.close();
      await platform.runtime.close();
      platform.logger.info({}, `${definition.name} stopped`);
    })());
  return { app, platform, url, port: address.port, metricsUrl, stop };
}

/**
 * The `main` of a service: starts it, and on SIGTERM/SIGINT drains and exits 0 before
 * Kubernetes' grace period ends. A config error prints one line and exits 1.
 */
export function runMain<C extends CommonConfig>(definition: ServiceDefinition<C>, afterStart?: (service: RunningService<C>) => void): void {
  exitOnUnsupportedNode(definition.name);
  startService(definition)
    .then((service) => {
      // Every exit waits for the log's last lines: its destination writes asynchronously.
      const exit = (code: number): void => afterLogsWritten(service.platform.logger, () => process.exit(code));
      const shutdown = (signal: string): void => {
        const drainSeconds = service.platform.config.DRAIN_SECONDS;
        service.platform.logger.info({ signal, drainSeconds }, 'shutting down');
        // Past drain + margin something hangs: leave with an error rather than be killed.
        setTimeout(
          () => {
            service.platform.logger.error({}, 'shutdown did not finish in time');
            exit(1);
          },
          (drainSeconds + 10) * 1000,
        ).unref();
        service.stop().then(
          () => exit(0),
          (err: unknown) => {
            service.platform.logger.error({ err }, 'shutdown failed');
            exit(1);
          },
        );
      };
      // The first signal drains; a second one (Ctrl-C again) says so and leaves at once.
      let stopping = false;
      const onSignal = (signal: string): void => {
        if (!stopping) {
          stopping = true;
          shutdown(signal);
          return;
        }
        service.platform.logger.warn({ signal }, 'second signal: forcing exit without finishing the drain');
        exit(1);
      };
      process.on('SIGTERM', () => onSignal('SIGTERM'));
      process.on('SIGINT', () => onSignal('SIGINT'));
      afterStart?.(service);
    })
    .catch((err: unknown) => {
      if (err instanceof ConfigError) {
        process.stderr.write(`${definition.name}: ${err.message}\n`);
      } else {
        process.stderr.write(`${definition.name}: failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
        if (process.env.LOG_LEVEL === 'debug' && err instanceof Error) process.stderr.write(`${err.stack}\n`);
      }
      process.exit(1);
    });
}
