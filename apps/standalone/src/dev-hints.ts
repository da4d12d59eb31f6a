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

/** The banner `npm start` prints: a token and commands that exercise every route. */
export function devBanner(url: string, token: string, publishKey: string | undefined, engine: string): string {
  const lines = [
    '',
    `Switchboard is running at ${url} (engine: ${engine}).`,
    '',
    'Development token (sub "dev", every channel, 24 h):',
    `  TOKEN=${token}`,
    '',
    'Try it:',
    `  curl ${url}/healthz`,
    `  curl ${url}/readyz`,
    `  curl -N "${url}/v1/sse?channel=orders:42&token=$TOKEN"`,
    `  curl "${url}/v1/poll?channel=orders:42&token=$TOKEN"`,
    `  websocat "${url.replace(/^http/, 'ws')}/v1/ws?token=$TOKEN"   then {"op":"subscribe","id":1,"channel":"orders:42"}`,
  ];
  if (publishKey !== undefined) {
    lines.push(
      `  curl -X POST ${url}/v1/publish -H "Authorization: Bearer ${publishKey}" -H 'Content-Type: application/json' \\`,
      `       -d '{"channel":"orders:42","data":{"status":"paid"}}'`,
    );
  }
  lines.push(`  open ${url}/inspect   (live inspector)`, `  curl ${url}/metrics`, '');
  return lines.join('\n');
}
