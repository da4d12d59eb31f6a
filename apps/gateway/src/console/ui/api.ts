/** An HTTP answer that was not 2xx, with the server's `{"error","message"}` body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const KEY_ITEM = 'switchboard:console:key';

/** The admin key of this tab (sessionStorage: gone with the tab). */
export const adminKey = {
  get: (): string => sessionStorage.getItem(KEY_ITEM) ?? '',
  set: (key: string): void => sessionStorage.setItem(KEY_ITEM, key),
  clear: (): void => sessionStorage.removeItem(KEY_ITEM),
};

/** Calls a route of this origin with a bearer key (the admin key unless another is given); JSON in, JSON out. */
export async function api<T>(path: string, options: { method?: string; body?: unknown; key?: string } = {}): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${options.key ?? adminKey.get()}` };
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(path, {
    method: options.method ?? 'GET',
    headers,
    body: options.body === undefined ? undefined : JSON.stringify(options.body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text === '' ? undefined : JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (!res.ok) {
    const body = (parsed ?? {}) as { error?: string; message?: string };
    throw new ApiError(res.status, body.error ?? String(res.status), body.message ?? (text || res.statusText));
  }
  return parsed as T;
}

/** `code: message` of any error, for inline display. */
export function describe(err: unknown): string {
  if (err instanceof ApiError) return `${err.code}: ${err.message}`;
  const e = err as { code?: string; message?: string };
  return e.code !== undefined ? `${e.code}: ${e.message ?? ''}` : String(e.message ?? err);
}
