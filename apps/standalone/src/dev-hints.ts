import type { WebhookSource } from '@switchboard/config';
import { SignJWT } from 'jose';

/** A token for trying things out: every channel, publish allowed, valid for a day. */
export async function devToken(secret: string): Promise<string> {
  return new SignJWT({ channels: ['*'], publish: ['*'] })
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject('dev')
    .setIssuedAt()
    .setExpirationTime('24h')
    .sign(new TextEncoder().encode(secret));
}

/** What the banner shows. Key values only for keys this process generated (`DevSecrets`). */
export interface BannerInput {
  url: string;
  engine: string;
  /** Path a browser is sent to from `/`. */
  consolePath: string;
  /** Signed with a generated JWT_SECRET; absent when the secret was supplied. */
  token?: string;
  /** Generated keys; a supplied key is referred to as `$NAME`, never shown. */
  publishKey?: string;
  adminKey?: string;
  /** Where the generated keys are kept, or why they could not be. */
  keptIn?: string;
  keepProblem?: string;
  /** Names of keys that were supplied (their values are never shown). */
  supplied: readonly string[];
  /** A Node.js with the global WebSocket (the project's Node 24). */
  node: string;
  webhookSources: readonly WebhookSource[];
}

const CHANNEL = 'orders:42';

/** Shell single-quoting. */
const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;
/** Text inside shell double quotes. */
const dq = (s: string): string => s.replace(/[\\$`"]/g, '\\$&');

/** Where to point a browser: the console (signed in by the link when the admin key was generated), else the inspector. */
function consoleLines(b: BannerInput): string[] {
  const { url } = b;
  if (b.consolePath !== '/console') return [`Open ${url}/ in a browser: the inspector (${url}${b.consolePath}).`];
  if (b.adminKey !== undefined) {
    // The key rides in the fragment, which browsers never send: the page keeps it for the tab and drops it from the address bar.
    return [`Open ${url}/console#key=${encodeURIComponent(b.adminKey)} in a browser: the console, signed in with the admin key below.`];
  }
  return [`Open ${url}/console in a browser and sign in with your ADMIN_API_KEY.`];
}

/**
 * The banner `npm start` prints once the server listens: the console URL, the generated
 * development keys and commands for every route that work with what the project installs
 * (curl, and Node's built-in WebSocket and crypto — no websocat, no `open`).
 */
export function devBanner(b: BannerInput): string {
  const { url } = b;
  const ws = url.replace(/^http/, 'ws');
  const lines = ['', `Switchboard is running at ${url} (engine: ${b.engine}).`, '', ...consoleLines(b), ''];

  if (b.token !== undefined || b.publishKey !== undefined || b.adminKey !== undefined) {
    const where =
      b.keptIn !== undefined && b.keepProblem === undefined
        ? `, kept in ${b.keptIn}`
        : ` (not saved: ${b.keepProblem}; they change on restart)`;
    lines.push(`Development keys, generated because they were not set${where} (never in production):`);
    if (b.token !== undefined) lines.push(`  TOKEN=${b.token}   # client token: sub "dev", every channel, may publish, 24 h`);
    if (b.publishKey !== undefined) lines.push(`  PUBLISH_API_KEY=${b.publishKey}   # POST /v1/publish`);
    if (b.adminKey !== undefined) lines.push(`  ADMIN_API_KEY=${b.adminKey}   # admin routes`);
    lines.push('');
  }
  if (b.supplied.length > 0) {
    const asks = [
      ...(b.token === undefined ? ['TOKEN to a client token your key verifies (claims sub, channels, publish)'] : []),
      ...(b.publishKey === undefined ? ['PUBLISH_API_KEY to your publish key'] : []),
    ];
    lines.push(`Your own ${b.supplied.join(', ')} ${b.supplied.length === 1 ? 'is' : 'are'} in use (not shown).`);
    if (asks.length > 0) lines.push(`For the examples, set ${asks.join(' and ')} in your shell.`);
    lines.push('');
  }

  lines.push(
    'Try it (paste the lines above into a shell first):',
    '  # Server-Sent Events: leave it running and publish from another shell',
    `  curl -N "${url}/v1/sse?channel=${CHANNEL}&token=$TOKEN"`,
    '  # publish a message',
    `  curl -X POST ${url}/v1/publish -H "Authorization: Bearer $PUBLISH_API_KEY" -H 'Content-Type: application/json' \\`,
    `    -d '{"channel":"${CHANNEL}","data":{"status":"paid"}}'`,
    '  # long-poll: the first call answers at once with a cursor; pass it back to wait (25 s) for what comes after',
    `  CURSOR=$(curl -s "${url}/v1/poll?channel=${CHANNEL}&token=$TOKEN" | node -pe 'JSON.parse(require("fs").readFileSync(0, "utf8")).cursor')`,
    `  curl "${url}/v1/poll?channel=${CHANNEL}&token=$TOKEN&cursor=$CURSOR"`,
    `  # WebSocket, with the WebSocket built into the project's Node 24`,
    `  ${b.node} -e 'const ws = new WebSocket(process.argv[1]); ws.onopen = () => ws.send(JSON.stringify({ op: "subscribe", id: 1, channel: "${CHANNEL}" })); ws.onmessage = (e) => console.log(e.data)' "${ws}/v1/ws?token=$TOKEN"`,
  );
  lines.push(...webhookExample(url, b.webhookSources));
  lines.push('  # health and metrics', `  curl ${url}/readyz`, `  curl ${url}/metrics`, '');
  return lines.join('\n');
}

/** A signed delivery to the first `hmac` or `standard` source; its secret stays a placeholder. */
function webhookExample(url: string, sources: readonly WebhookSource[]): string[] {
  if (sources.length === 0) return [];
  const source = sources.find((s) => s.provider === 'hmac' || s.provider === 'standard');
  const list = sources.map((s) => `${s.name} (${s.provider})`).join(', ');
  if (source === undefined) {
    return [`  # webhook sources: ${list}, at POST ${url}/v1/webhooks/<name>, signed by their providers (docs/WEBHOOKS.md)`];
  }
  const target = `${url}/v1/webhooks/${source.name}`;
  const secret = `  SECRET=${quote(`<one of the secrets of source "${source.name}">`)}`;
  if (source.provider === 'standard') {
    return [
      `  # a signed webhook to source "${source.name}" (Standard Webhooks); set SECRET to its whsec_… secret`,
      secret,
      `  ID=msg_$(date +%s) TS=$(date +%s) BODY='{"type":"demo.ping","data":{"hello":"world"}}'`,
      `  SIG=$(node -e 'const [key, text] = process.argv.slice(1); process.stdout.write(require("crypto").createHmac("sha256", Buffer.from(key.replace(/^whsec_/, ""), "base64")).update(text).digest("base64"))' "$SECRET" "$ID.$TS.$BODY")`,
      `  curl -X POST ${target} -H 'Content-Type: application/json' -H "webhook-id: $ID" -H "webhook-timestamp: $TS" -H "webhook-signature: v1,$SIG" -d "$BODY"`,
    ];
  }
  const hmac = source;
  const deliveryId = hmac.deliveryIdHeader === undefined ? '' : ` -H "${dq(hmac.deliveryIdHeader)}: $(date +%s)"`;
  return [
    `  # a signed webhook to source "${source.name}" (HMAC-${hmac.algorithm.toUpperCase()} of the body in ${hmac.encoding}); set SECRET first`,
    secret,
    `  BODY='{"type":"demo.ping","sent":"'$(date +%s)'"}'`,
    `  SIG=$(node -e 'process.stdout.write(require("crypto").createHmac("${hmac.algorithm}", process.argv[1]).update(process.argv[2]).digest("${hmac.encoding}"))' "$SECRET" "$BODY")`,
    `  curl -X POST ${target} -H 'Content-Type: application/json' -H "${dq(hmac.header)}: ${dq(hmac.prefix)}$SIG"${deliveryId} -d "$BODY"`,
  ];
}
