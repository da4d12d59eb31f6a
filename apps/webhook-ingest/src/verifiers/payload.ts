import { reject, Rejected } from './verifier';

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

/** `application/json` and `application/<anything>+json`. */
export function isJsonMediaType(mediaType: string): boolean {
  return mediaType === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(mediaType);
}

export const FORM_MEDIA_TYPE = 'application/x-www-form-urlencoded';

/** The body as UTF-8 text; undefined when it is not valid UTF-8. */
export function decodeUtf8(body: Buffer): string | undefined {
  try {
    return utf8.decode(body);
  } catch {
    return undefined;
  }
}

/** A parsed body, or why it could not be parsed. */
export type Parsed<T> = { readonly ok: true; readonly value: T } | Rejected;

/** Parses a JSON body (after verification, for the event's data; the signature was over the bytes). */
export function parseJson(body: Buffer | string): Parsed<unknown> {
  const text = typeof body === 'string' ? body : decodeUtf8(body);
  if (text === undefined) return reject('malformed_body', 'body is not valid UTF-8');
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch {
    return reject('malformed_body', 'body is not valid JSON');
  }
}

/** A JSON object body, or a refusal. */
export function parseJsonObject(body: Buffer | string): Parsed<Record<string, unknown>> {
  const parsed = parseJson(body);
  if (!parsed.ok) return parsed;
  if (!isRecord(parsed.value)) return reject('malformed_body', 'body is not a JSON object');
  return { ok: true, value: parsed.value };
}

/** Form fields; a field sent several times becomes a list of its values. */
export type FormFields = Record<string, string | string[]>;

export function parseForm(body: Buffer): Parsed<FormFields> {
  const text = decodeUtf8(body);
  if (text === undefined) return reject('malformed_body', 'body is not valid UTF-8');
  // No prototype: a field named "__proto__" is just a field.
  const fields = Object.create(null) as FormFields;
  for (const [key, value] of new URLSearchParams(text)) {
    const previous = fields[key];
    if (previous === undefined) fields[key] = value;
    else if (Array.isArray(previous)) previous.push(value);
    else fields[key] = [previous, value];
  }
  return { ok: true, value: fields };
}

/** One form field's single value. */
export function formField(fields: FormFields, name: string): string | undefined {
  const value = fields[name];
  return typeof value === 'string' ? value : undefined;
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Reads a dot path (`event.type`) of a JSON value. */
export function readPath(value: unknown, path: string): unknown {
  let current = value;
  for (const key of path.split('.')) {
    if (!isRecord(current) || !Object.hasOwn(current, key)) return undefined;
    current = current[key];
  }
  return current;
}

/** Longest event type part taken from a request (the CloudEvent `type` stays readable and bounded). */
export const MAX_EVENT_TYPE_LENGTH = 128;

/** A provider-supplied event type: a non-empty string of printable characters, at most 128 long. */
export function eventTypeOf(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 && value.length <= MAX_EVENT_TYPE_LENGTH && !/[\p{Cc}\s]/u.test(value)
    ? value
    : undefined;
}
