import {
  canonicalizedOssHeaders,
  canonicalizedResource,
  headerValue,
  hmacSha1,
  signaturesEqual,
  stringToSign,
  type HeaderBag,
} from '../auth/oss-signature.js';
import { errors } from '../oss/errors.js';

export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;

export interface SignedRequest {
  method: string;
  headers: HeaderBag;
  /** Query parameters in order, decoded; a bare "live" is ["live", ""]. */
  query: ReadonlyArray<[string, string]>;
  bucket: string;
  key: string;
}

/** Who sent a request: an access key id, or undefined for anonymous. */
export interface Identity {
  accessKeyId?: string;
}

const RFC1123 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const QUERY_AUTH = ['OSSAccessKeyId', 'Expires', 'Signature'];

function firstParam(query: ReadonlyArray<[string, string]>, name: string): string | undefined {
  return query.find(([k]) => k === name)?.[1];
}

/**
 * Verifies an OSS V1 request signature (Authorization header or signed URL).
 * Throws the OssError OSS would answer with; returns the identity otherwise.
 */
export function authenticate(req: SignedRequest, secrets: ReadonlyMap<string, string>, now = Date.now()): Identity {
  const header = headerValue(req.headers, 'authorization');
  const hasQueryAuth = req.query.some(([k]) => QUERY_AUTH.includes(k));
  if (header !== undefined && hasQueryAuth) {
    throw errors.invalidArgument('A request must not carry both an Authorization header and a URL signature.', 'Authorization', header);
  }
  const resource = canonicalizedResource(req.bucket, req.key, req.query);
  const contentMd5 = headerValue(req.headers, 'content-md5') ?? '';
  const contentType = headerValue(req.headers, 'content-type') ?? '';
  const ossHeaders = canonicalizedOssHeaders(req.headers);

  if (header !== undefined) {
    if (header.startsWith('OSS4-HMAC-SHA256')) {
      throw errors.invalidArgument('OSS4-HMAC-SHA256 (V4) signatures are not supported; sign requests with V1 ("OSS id:signature").', 'Authorization', header);
    }
    const m = /^OSS ([^:\s]+):(\S+)$/.exec(header.trim());
    if (!m) throw errors.invalidArgument('The Authorization header must look like "OSS AccessKeyId:Signature".', 'Authorization', header);
    const [, id, provided] = m as unknown as [string, string, string];
    const secret = secrets.get(id);
    if (secret === undefined) throw errors.invalidAccessKeyId(id);
    const xOssDate = headerValue(req.headers, 'x-oss-date');
    const date = headerValue(req.headers, 'date');
    const requestDate = xOssDate ?? date;
    if (!requestDate || !RFC1123.test(requestDate) || Number.isNaN(Date.parse(requestDate))) {
      throw errors.accessDenied('The request needs a valid Date (or x-oss-date) header in RFC 1123 GMT format, e.g. "Sun, 22 Nov 2015 08:16:38 GMT".');
    }
    if (Math.abs(Date.parse(requestDate) - now) > MAX_CLOCK_SKEW_MS) {
      throw errors.requestTimeTooSkewed(requestDate, new Date(now).toUTCString());
    }
    // ali-oss signs x-oss-date as the date line; other clients sign Date.
    const candidates = [...new Set([xOssDate, date].filter((d): d is string => d !== undefined))];
    const strings = candidates.map((d) => stringToSign({ method: req.method, contentMd5, contentType, date: d, ossHeaders, resource }));
    if (!strings.some((s) => signaturesEqual(hmacSha1(secret, s), provided))) {
      throw errors.signatureDoesNotMatch(strings[0]!, provided, id);
    }
    return { accessKeyId: id };
  }

  if (hasQueryAuth) {
    const id = firstParam(req.query, 'OSSAccessKeyId');
    const expires = firstParam(req.query, 'Expires');
    const provided = firstParam(req.query, 'Signature');
    if (!id || !expires || !provided) {
      throw errors.accessDenied('A signed URL needs all of OSSAccessKeyId, Expires and Signature.');
    }
    if (!/^\d+$/.test(expires)) throw errors.accessDenied(`Expires must be a Unix time in seconds, got "${expires}".`);
    if (Number(expires) * 1000 < now) throw errors.accessDenied(`Request has expired (Expires ${expires} is before ${Math.floor(now / 1000)}).`);
    const secret = secrets.get(id);
    if (secret === undefined) throw errors.invalidAccessKeyId(id);
    const s = stringToSign({ method: req.method, contentMd5, contentType, date: expires, ossHeaders, resource });
    if (!signaturesEqual(hmacSha1(secret, s), provided)) throw errors.signatureDoesNotMatch(s, provided, id);
    return { accessKeyId: id };
  }
  return {};
}
