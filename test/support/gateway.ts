import type { GatewayConfig } from '@switchboard/config';
import { RunningService, startService } from '@switchboard/platform';
import { TEST_JWT_SECRET } from '@switchboard/testing';
import { gatewayDefinition } from '@switchboard/gateway';

/** Env of an in-process gateway on a free port: memory engine unless NATS/Redis URLs are given. */
export function gatewayEnv(overrides: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  return { PORT: '0', HOST: '127.0.0.1', LOG_LEVEL: 'warn', JWT_SECRET: TEST_JWT_SECRET, DRAIN_SECONDS: '1', ...overrides };
}

export function startGateway(overrides: Record<string, string | undefined> = {}): Promise<RunningService<GatewayConfig>> {
  return startService(gatewayDefinition, gatewayEnv(overrides));
}

export function wsUrl(service: RunningService, token?: string): string {
  return service.url.replace(/^http/, 'ws') + '/v1/ws' + (token === undefined ? '' : `?token=${token}`);
}
