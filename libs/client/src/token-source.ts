import { decodeBase64Url } from '@switchboard/protocol';
import { SwitchboardClientError, TokenReason } from './types';

/** The app's token function: called at start, before `exp`, and after a refusal; `null` ends the client. */
export type GetToken = (reason: TokenReason) => Promise<string | null> | string | null;

/** A token, or why there is none and whether asking again later may help. */
export type TokenResult = { token: string } | { error: SwitchboardClientError; terminal: boolean };

/** A refresh is due this long before `exp` at most (and at 75 % of a shorter lifetime). */
const REFRESH_MARGIN_MS = 30_000;
/** Node timers hold at most 2^31-1 ms. */
const MAX_TIMER_MS = 2_147_483_647;

/**
 * The client's token: a fixed one or the app's `getToken()`. Knows the current token's
 * `exp` and `sub` (read, not verified: the gateway verifies) and calls `onRefreshDue`
 * shortly before `exp`, so every transport can take a new token before the old one ends.
 */
export class TokenSource {
  #token?: string;
  #refreshAt = Infinity;
  #timer?: ReturnType<typeof setTimeout>;
  #inFlight?: Promise<TokenResult>;
  #closed = false;

  readonly #fixed: string | undefined;
  readonly #getToken: GetToken | undefined;
  readonly #onRefreshDue: () => void;
  constructor(fixed: string | undefined, getToken: GetToken | undefined, onRefreshDue: () => void) {
    this.#fixed = fixed;
    this.#getToken = getToken;
    this.#onRefreshDue = onRefreshDue;
  }

  /** The token in use (undefined before the first one). */
  get current(): string | undefined {
    return this.#token ?? this.#fixed;
  }

  /** Whether a refused or expired token can be replaced (a `getToken` was given). */
  get renewable(): boolean {
    return this.#getToken !== undefined;
  }

  /** `exp` of the current token, ms (undefined: none, or not a JWT). */
  get expiresAt(): number | undefined {
    const t = this.current;
    return t === undefined ? undefined : tokenExpiry(t);
  }

  /** For a (re)connect: the current token unless its refresh is due, else a new one. */
  forConnect(): Promise<TokenResult> {
    if (this.#token !== undefined && Date.now() < this.#refreshAt) return Promise.resolve({ token: this.#token });
    return this.obtain(this.#token === undefined ? 'initial' : 'refresh');
  }

  /** A new token from `getToken(reason)` (one call at a time; concurrent callers share it). */
  obtain(reason: TokenReason): Promise<TokenResult> {
    if (this.#getToken === undefined) {
      if (reason === 'unauthorized' || this.#fixed === undefined) {
        const error = new SwitchboardClientError('unauthorized', 'the gateway refused the token and no getToken is configured');
        return Promise.resolve({ error, terminal: true });
      }
      this.#set(this.#fixed);
      return Promise.resolve({ token: this.#fixed });
    }
    this.#inFlight ??= this.#ask(this.#getToken, reason).finally(() => (this.#inFlight = undefined));
    return this.#inFlight;
  }

  /** Forgets the current token: the next connect asks for a new one. */
  invalidate(): void {
    this.#refreshAt = 0;
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#timer);
  }

  async #ask(getToken: GetToken, reason: TokenReason): Promise<TokenResult> {
    try {
      const token = await getToken(reason);
      if (token === null) return { error: new SwitchboardClientError('unauthorized', 'getToken returned null'), terminal: true };
      this.#set(token);
      return { token };
    } catch (err) {
      return { error: new SwitchboardClientError('token', `getToken failed: ${(err as Error)?.message ?? String(err)}`), terminal: false };
    }
  }

  #set(token: string): void {
    this.#token = token;
    clearTimeout(this.#timer);
    const exp = tokenExpiry(token);
    this.#refreshAt = exp === undefined ? Infinity : Date.now() + refreshDelay(exp - Date.now());
    // A fixed token cannot be replaced: the gateway ends the connection at its exp.
    if (exp !== undefined && this.#getToken !== undefined) this.#arm();
  }

  #arm(): void {
    if (this.#closed) return;
    const wait = this.#refreshAt - Date.now();
    this.#timer = setTimeout(
      () => (Date.now() < this.#refreshAt ? this.#arm() : this.#onRefreshDue()),
      Math.min(Math.max(wait, 0), MAX_TIMER_MS),
    );
  }
}

/**
 * When to refresh a token that has `lifetimeMs` left: 30 s before `exp`, or at three quarters
 * of a shorter life (1 s at least) — a quarter of a short life is the margin a busy client and
 * a slow token endpoint get before the gateway ends the connection.
 */
export function refreshDelay(lifetimeMs: number): number {
  return Math.max(1000, Math.min(lifetimeMs - REFRESH_MARGIN_MS, lifetimeMs * 0.75));
}

function claims(token: string): Record<string, unknown> | undefined {
  try {
    const payload = JSON.parse(decodeBase64Url(token.split('.')[1] ?? '')) as unknown;
    return typeof payload === 'object' && payload !== null ? (payload as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** `exp` of a JWT in ms, read without verifying (the gateway verifies). */
export function tokenExpiry(token: string): number | undefined {
  const exp = claims(token)?.exp;
  return typeof exp === 'number' ? exp * 1000 : undefined;
}

/** `sub` of a JWT, read without verifying (for the WebRTC room helper). */
export function tokenSubject(token: string): string | undefined {
  const sub = claims(token)?.sub;
  return typeof sub === 'string' ? sub : undefined;
}
