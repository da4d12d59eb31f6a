import type { WebhookSourceOf } from '@switchboard/config';
import { createHash } from 'node:crypto';
import { decodeUtf8, eventTypeOf, FORM_MEDIA_TYPE, isJsonMediaType, parseForm, parseJson, readPath } from './payload';
import { decodeBase64, decodeHex, DIGEST_BYTES, findMatch, header, hmac, isRejected, requireHeader } from './signing';
import { reject, Rejected, Verified, WebhookEvent, WebhookRequest, WebhookVerifier } from './verifier';

/**
 * Generic HMAC: `<header>: <prefix><signature>` = HMAC-<algorithm>(secret, raw body) in
 * hex or base64, e.g. `X-Signature: sha256=<hex>`. Delivery id: the `deliveryIdHeader`
 * (required when configured), else the body's SHA-256 (the same body twice is one
 * delivery). Type: `<source>.<typeField of a JSON body, else "event">`. With a delivery id
 * header a request is replayable (the signature covers only the body). Data: JSON bodies
 * parsed, form bodies as fields, text bodies as a string, anything else as `data_base64`.
 */
export class HmacVerifier implements WebhookVerifier {
  readonly provider = 'hmac';
  private readonly keys: Buffer[];
  private readonly display: string;

  constructor(private readonly source: WebhookSourceOf<'hmac'>) {
    this.keys = source.secrets.map((s) => Buffer.from(s, 'utf8'));
    this.display = source.header;
  }

  verify(request: WebhookRequest): Verified | Rejected {
    const { header: name, prefix, encoding, algorithm, deliveryIdHeader } = this.source;
    const value = requireHeader(request.headers, name, this.display);
    if (isRejected(value)) return value;
    if (deliveryIdHeader !== undefined) {
      const id = requireHeader(request.headers, deliveryIdHeader, deliveryIdHeader);
      if (isRejected(id)) return id;
    }
    const text = value.startsWith(prefix) ? value.slice(prefix.length) : undefined;
    const bytes = DIGEST_BYTES[algorithm];
    const decoded = text === undefined ? undefined : encoding === 'hex' ? decodeHex(text, bytes) : decodeBase64(text, bytes);
    if (decoded === undefined) {
      return reject(
        'malformed_header',
        `${this.display} must be ${prefix === '' ? '' : `"${prefix}" + `}the ${encoding} of an HMAC-${algorithm}`,
      );
    }
    const match = findMatch(
      this.keys.map((key) => hmac(algorithm, key, request.body)),
      [decoded],
    );
    if (match === undefined) return reject('signature_mismatch', `no configured secret matches ${this.display}`);
    return { ok: true, ...match, replayable: deliveryIdHeader !== undefined };
  }

  describe(request: WebhookRequest): WebhookEvent | Rejected {
    const { deliveryIdHeader, typeField, name } = this.source;
    const deliveryId =
      deliveryIdHeader === undefined
        ? createHash('sha256').update(request.body).digest('hex')
        : String(header(request.headers, deliveryIdHeader));
    const base = { kind: 'event', deliveryId } as const;
    if (isJsonMediaType(request.mediaType)) {
      const body = parseJson(request.body);
      if (!body.ok) return body;
      const type = typeField === undefined ? undefined : eventTypeOf(readPath(body.value, typeField));
      return { ...base, type: `${name}.${type ?? 'event'}`, data: { data: body.value }, dataContentType: 'application/json' };
    }
    const type = `${name}.event`;
    if (request.mediaType === FORM_MEDIA_TYPE) {
      const fields = parseForm(request.body);
      if (!fields.ok) return fields;
      return { ...base, type, data: { data: fields.value }, dataContentType: 'application/json' };
    }
    const text = request.mediaType.startsWith('text/') ? decodeUtf8(request.body) : undefined;
    const contentType = request.mediaType === '' ? 'application/octet-stream' : request.mediaType;
    if (text !== undefined) return { ...base, type, data: { data: text }, dataContentType: contentType };
    return { ...base, type, data: { dataBase64: request.body.toString('base64') }, dataContentType: contentType };
  }
}
