import type { WebhookSourceOf } from '@switchboard/config';
import { createHash, timingSafeEqual } from 'node:crypto';
import { FORM_MEDIA_TYPE, FormFields, isJsonMediaType, parseForm, parseJson } from './payload';
import { decodeBase64, findMatch, header, hmac, isRejected, requireHeader } from './signing';
import { reject, Rejected, Verified, WebhookEvent, WebhookRequest, WebhookVerifier } from './verifier';

/**
 * Twilio: `X-Twilio-Signature: <base64>` = HMAC-SHA1(auth token, URL + every form field
 * as name+value, names sorted, a repeated name's distinct values sorted). A JSON body is
 * signed through the URL instead: the URL carries `bodySHA256=<hex SHA-256 of the body>`
 * and the signature covers the URL alone. The URL is the one Twilio requested: the
 * source's `publicUrl`, or the request's, rebuilt from trusted forwarding headers; like
 * Twilio's own library, it is tried with and without the default port. No timestamp is
 * signed: replayable. Delivery id: `I-Twilio-Idempotency-Token`, else the signature;
 * type: `twilio.<eventType>`.
 */
export class TwilioVerifier implements WebhookVerifier {
  readonly provider = 'twilio';
  private readonly keys: Buffer[];

  constructor(private readonly source: WebhookSourceOf<'twilio'>) {
    this.keys = source.secrets.map((s) => Buffer.from(s, 'utf8'));
  }

  verify(request: WebhookRequest): Verified | Rejected {
    const form = request.mediaType === FORM_MEDIA_TYPE;
    if (!form && !isJsonMediaType(request.mediaType)) {
      return reject('unsupported_media_type', 'Twilio sends application/x-www-form-urlencoded or application/json');
    }
    const signature = requireHeader(request.headers, 'x-twilio-signature', 'X-Twilio-Signature');
    if (isRejected(signature)) return signature;
    const decoded = decodeBase64(signature, 20);
    if (decoded === undefined) return reject('malformed_header', 'X-Twilio-Signature must be the base64 of 20 bytes');
    const url = this.signedUrl(request.url);
    let params = '';
    if (form) {
      const fields = parseForm(request.body);
      if (!fields.ok) return fields;
      params = paramString(fields.value);
    } else {
      const bodyHash = bodySha256Of(url);
      if (bodyHash === undefined)
        return reject('signature_mismatch', 'a JSON body is signed through the URL parameter bodySHA256, which is missing');
      const actual = Buffer.from(createHash('sha256').update(request.body).digest('hex'));
      const claimed = Buffer.from(bodyHash.toLowerCase());
      if (claimed.length !== actual.length || !timingSafeEqual(claimed, actual)) {
        return reject('signature_mismatch', 'the body does not match the URL parameter bodySHA256');
      }
    }
    const urls = [...new Set([url, withoutPort(url), withDefaultPort(url)])];
    const expected = this.keys.flatMap((key) => urls.map((u) => hmac('sha1', key, u, params)));
    const match = findMatch(expected, [decoded]);
    if (match === undefined) return reject('signature_mismatch', 'no configured secret matches X-Twilio-Signature');
    return { ok: true, secretIndex: Math.floor(match.secretIndex / urls.length), signature: match.signature, replayable: true };
  }

  describe(request: WebhookRequest, verified: Verified): WebhookEvent | Rejected {
    const body = request.mediaType === FORM_MEDIA_TYPE ? parseForm(request.body) : parseJson(request.body);
    if (!body.ok) return body;
    return {
      kind: 'event',
      deliveryId: header(request.headers, 'i-twilio-idempotency-token') ?? `sig:${verified.signature}`,
      type: `twilio.${this.source.eventType}`,
      data: { data: body.value },
      dataContentType: 'application/json',
    };
  }

  /** `publicUrl` (plus the request's query string when it has none), else the request's URL. */
  private signedUrl(requestUrl: string): string {
    const publicUrl = this.source.publicUrl;
    if (publicUrl === undefined) return requestUrl;
    const query = requestUrl.indexOf('?');
    return publicUrl.includes('?') || query < 0 ? publicUrl : publicUrl + requestUrl.slice(query);
  }
}

/** Field names sorted, each as name+value; a repeated name's distinct values sorted (as twilio-node). */
function paramString(fields: FormFields): string {
  let out = '';
  for (const name of Object.keys(fields).sort()) {
    const value = fields[name];
    if (Array.isArray(value)) for (const v of [...new Set(value)].sort()) out += name + v;
    else out += name + value;
  }
  return out;
}

function bodySha256Of(url: string): string | undefined {
  const query = url.indexOf('?');
  if (query < 0) return undefined;
  return new URLSearchParams(url.slice(query + 1).split('#')[0]).get('bodySHA256') ?? undefined;
}

const AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)(.*)$/is;

function withoutPort(url: string): string {
  const m = AUTHORITY.exec(url);
  return m === null ? url : m[1] + m[2].replace(/:\d*$/, '') + m[3];
}

function withDefaultPort(url: string): string {
  const m = AUTHORITY.exec(url);
  if (m === null || /:\d*$/.test(m[2])) return url;
  return m[1] + m[2] + (m[1].toLowerCase() === 'https://' ? ':443' : ':80') + m[3];
}
