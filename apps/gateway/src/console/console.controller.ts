import { Controller, Get, Header, Headers, Inject, NotFoundException, Param, Post, Res } from '@nestjs/common';
import type { GatewayConfig } from '@switchboard/config';
import type { Metrics } from '@switchboard/observability';
import { METRICS, PLATFORM, type Platform } from '@switchboard/platform';
import { SwitchboardError } from '@switchboard/protocol';
import type { Response } from 'express';
import { SignJWT } from 'jose';
import { createHash, timingSafeEqual } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readBackendState } from './backend-state';
import { ClusterStats } from './cluster-stats';
import { CONSOLE_CSP, CONSOLE_PAGE } from './console-page';
import { podName } from './stats-publisher';

/** Where the built UI is: beside the built app (`dist/apps/<app>/public/console/`), or the build's own output (tests, `nest start`). */
const ASSET_DIRS = [join(__dirname, 'public', 'console'), join(process.cwd(), 'dist', 'console')];
const ASSETS: Record<string, string> = { 'console.js': 'text/javascript; charset=utf-8', 'console.css': 'text/css; charset=utf-8' };

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/** Webhook requests of one source, by outcome, and the rejections by reason (this process's counters). */
export interface SourceCounts {
  source: string;
  outcomes: Record<string, number>;
  rejected: Record<string, number>;
}

/** A webhook event the notifier took from EVENTS, newest first. */
export interface RecentWebhook {
  seq: number;
  source: string;
  storedAt: string;
  id?: string;
  type?: string;
}

/** How many of the last EVENTS messages are looked through for webhooks. */
const RECENT_WINDOW = 100;

/**
 * `/console`: the page (public: it holds nothing until the admin key is entered) and its
 * API under `/console/api/`, every route of which takes `Authorization: Bearer <ADMIN_API_KEY>`.
 * Registered only with CONSOLE_ENABLED and an admin key (gateway.module.ts).
 */
@Controller('console')
export class ConsoleController {
  private readonly assets = new Map<string, string>();
  private readonly adminKey: string;

  constructor(
    @Inject(PLATFORM) private readonly platform: Platform<GatewayConfig>,
    @Inject(METRICS) private readonly metrics: Metrics,
    private readonly cluster: ClusterStats,
  ) {
    this.adminKey = platform.config.ADMIN_API_KEY ?? '';
  }

  @Get()
  @Header('Content-Type', 'text/html; charset=utf-8')
  @Header('Cache-Control', 'no-cache')
  @Header('Content-Security-Policy', CONSOLE_CSP)
  // For browsers without CSP's frame-ancestors.
  @Header('X-Frame-Options', 'DENY')
  @Header('X-Content-Type-Options', 'nosniff')
  @Header('Referrer-Policy', 'no-referrer')
  page(): string {
    return CONSOLE_PAGE;
  }

  @Get('assets/:file')
  @Header('Cache-Control', 'no-cache')
  @Header('X-Content-Type-Options', 'nosniff')
  asset(@Param('file') file: string, @Res({ passthrough: true }) res: Response): string {
    const type = ASSETS[file];
    if (type === undefined) throw new NotFoundException(`no console asset ${file}`);
    let body = this.assets.get(file);
    if (body === undefined) {
      const dir = ASSET_DIRS.find((d) => existsSync(join(d, file)));
      if (dir === undefined) throw new NotFoundException('the console is not built (npm run build:console)');
      body = readFileSync(join(dir, file), 'utf8');
      this.assets.set(file, body);
    }
    res.setHeader('Content-Type', type);
    return body;
  }

  /** What this process offers the console: checks the key, so the login form can say it is wrong. */
  @Get('api/session')
  @Header('Cache-Control', 'no-store')
  session(@Headers('authorization') authorization?: string) {
    this.authorize(authorization);
    return { pod: podName(this.platform.config), engine: this.platform.runtime.mode, devToken: this.devTokenSecret() !== undefined };
  }

  /** A client token for the Live view (every channel, may publish, an hour): development only, never with NODE_ENV=production. */
  @Post('api/dev-token')
  @Header('Cache-Control', 'no-store')
  async devToken(@Headers('authorization') authorization?: string) {
    this.authorize(authorization);
    const secret = this.devTokenSecret();
    if (secret === undefined)
      throw new SwitchboardError('not_found', 'no development tokens here: NODE_ENV is production or JWT_SECRET is not set');
    const { JWT_ISSUER, JWT_AUDIENCE } = this.platform.config;
    const jwt = new SignJWT({ channels: ['*'], publish: ['*'] })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setSubject('console')
      .setIssuedAt()
      .setExpirationTime('1h');
    // The claims this gateway requires, so the token passes its own checks.
    if (JWT_ISSUER !== undefined) jwt.setIssuer(JWT_ISSUER);
    if (JWT_AUDIENCE !== undefined) jwt.setAudience(JWT_AUDIENCE);
    const token = await jwt.sign(new TextEncoder().encode(secret));
    return { token };
  }

  /** Every gateway heard on the stats bus, with its recent history, and this process's view of NATS and Redis. */
  @Get('api/cluster')
  @Header('Cache-Control', 'no-store')
  async clusterState(@Headers('authorization') authorization?: string) {
    this.authorize(authorization);
    return {
      intervalMs: this.platform.config.STATS_INTERVAL_SECONDS * 1000,
      pods: this.cluster.view(),
      backends: await readBackendState(this.platform),
    };
  }

  /** Webhook requests this process took, by source: outcomes and rejection reasons. */
  @Get('api/webhooks')
  @Header('Cache-Control', 'no-store')
  async webhooks(@Headers('authorization') authorization?: string): Promise<{ sources: SourceCounts[]; recent: RecentWebhook[] | null }> {
    this.authorize(authorization);
    const bySource = new Map<string, SourceCounts>();
    for (const v of (await this.metrics.webhookRequests.get()).values) {
      const source = String(v.labels.source);
      const counts = bySource.get(source) ?? { source, outcomes: {}, rejected: {} };
      const outcome = String(v.labels.outcome);
      counts.outcomes[outcome] = (counts.outcomes[outcome] ?? 0) + v.value;
      if (outcome === 'rejected') counts.rejected[String(v.labels.reason)] = (counts.rejected[String(v.labels.reason)] ?? 0) + v.value;
      bySource.set(source, counts);
    }
    return { sources: [...bySource.values()].sort((a, b) => a.source.localeCompare(b.source)), recent: await this.recentWebhooks() };
  }

  /**
   * The last webhook events the notifier was handed (EVENTS, up to its consumer's highest
   * delivery): only where the notifier runs in this process (NOTIFIER_DURABLE), else null.
   */
  private async recentWebhooks(): Promise<RecentWebhook[] | null> {
    const config = this.platform.config as GatewayConfig & { NOTIFIER_DURABLE?: string };
    if (config.NOTIFIER_DURABLE === undefined) return null;
    const bus = this.platform.runtime.eventBus;
    const { delivered } = await bus.ackState(config.NOTIFIER_DURABLE);
    if (delivered === 0) return [];
    const from = Math.max(1, delivered - RECENT_WINDOW + 1);
    const prefix = `${config.EVENTS_SUBJECT_PREFIX}.webhook.`;
    const decoder = new TextDecoder();
    const recent: RecentWebhook[] = [];
    for (const event of await bus.read(config.EVENTS_STREAM, from, delivered - from + 1)) {
      if (!event.subject.startsWith(prefix)) continue;
      let parsed: { id?: unknown; type?: unknown } = {};
      try {
        parsed = JSON.parse(decoder.decode(event.data)) as typeof parsed;
      } catch {
        /* shown without id and type */
      }
      recent.push({
        seq: event.seq,
        source: event.subject.slice(prefix.length).split('.')[0] ?? '',
        storedAt: new Date(event.storedAt).toISOString(),
        id: typeof parsed.id === 'string' ? parsed.id : undefined,
        type: typeof parsed.type === 'string' ? parsed.type : undefined,
      });
    }
    return recent.reverse().slice(0, 20);
  }

  private devTokenSecret(): string | undefined {
    return process.env.NODE_ENV === 'production' ? undefined : this.platform.config.JWT_SECRET;
  }

  /** Constant-time in the key, whatever was presented. */
  private authorize(authorization: string | undefined): void {
    const presented = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1] ?? '';
    if (!timingSafeEqual(digest(presented), digest(this.adminKey)) || this.adminKey === '') {
      throw new SwitchboardError('unauthorized', 'missing or wrong admin key (ADMIN_API_KEY)');
    }
  }
}
