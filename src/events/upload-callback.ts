import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics.js';
import { errors } from '../oss/errors.js';
import { TargetRefused, type CheckedTarget, type GuardedClient } from '../egress/guarded-client.js';
import { callbackSignatureHeaders, type SigningKey } from './signing-key.js';

/** OSS gives a callback server 5 s and forwards at most 3 MB of its answer. */
const CALLBACK_TIMEOUT_MS = 5000;
const MAX_ANSWER_BYTES = 3 * 1024 * 1024;
const MAX_URLS = 5;

export interface UploadCallbackRequest {
  urls: URL[];
  bodyTemplate: string;
  bodyType: 'application/x-www-form-urlencoded' | 'application/json';
  /** The x-oss-callback-var values, by "x:name". */
  vars: Record<string, string>;
}

export interface StoredObject {
  bucket: string;
  object: string;
  /** Quoted, as the PutObject answer gives it. */
  etag: string;
  size: number;
  mimeType: string;
}

const invalid = (message: string) => errors.invalidArgument(message, 'x-oss-callback', '');

function decodeJson(header: string, what: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(Buffer.from(header, 'base64').toString('utf8'));
    if (value && typeof value === 'object' && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    /* answered below */
  }
  throw invalid(`The ${what} is not base64-encoded JSON.`);
}

/** The x-oss-callback (and x-oss-callback-var) headers, checked before anything is stored. */
export function parseUploadCallback(callback: string, callbackVar: string | undefined): UploadCallbackRequest {
  const c = decodeJson(callback, 'callback configuration');
  if (typeof c.callbackUrl !== 'string' || c.callbackUrl === '') throw invalid('The callback configuration needs a callbackUrl.');
  if (typeof c.callbackBody !== 'string' || c.callbackBody === '') throw invalid('The callback configuration needs a non-empty callbackBody.');
  const bodyType = c.callbackBodyType ?? 'application/x-www-form-urlencoded';
  if (bodyType !== 'application/x-www-form-urlencoded' && bodyType !== 'application/json') {
    throw invalid('callbackBodyType must be application/x-www-form-urlencoded or application/json.');
  }
  const parts = c.callbackUrl.split(';').filter(Boolean);
  if (parts.length > MAX_URLS) throw invalid(`A callback may name at most ${MAX_URLS} URLs.`);
  const urls = parts.map((u) => {
    try {
      const url = new URL(/^https?:\/\//i.test(u) ? u : `http://${u}`);
      if (url.protocol === 'http:' || url.protocol === 'https:') return url;
    } catch {
      /* answered below */
    }
    throw invalid(`The callback URL "${u}" is not valid.`);
  });
  const vars: Record<string, string> = {};
  if (callbackVar) {
    for (const [name, value] of Object.entries(decodeJson(callbackVar, 'callback-var'))) {
      if (!/^x:[a-z0-9_.-]+$/.test(name)) throw errors.invalidArgument('Callback variable names must start with "x:" and be lower case.', 'x-oss-callback-var', name);
      vars[name] = String(value);
    }
  }
  // callbackHost is not honoured: the request names the URL's own host
  return { urls, bodyTemplate: c.callbackBody, bodyType, vars };
}

/**
 * The callback body: ${bucket}, ${object}, ${etag} (unquoted), ${size}, ${mimeType} and
 * ${x:name} replaced, URL-encoded in a form body and as JSON values in a JSON body;
 * unknown variables become empty, as OSS does.
 */
export function renderCallbackBody(req: UploadCallbackRequest, o: StoredObject): string {
  const system: Record<string, string | number> = { bucket: o.bucket, object: o.object, etag: o.etag.replace(/"/g, ''), size: o.size, mimeType: o.mimeType };
  return req.bodyTemplate.replace(/\$\{([^}]*)\}/g, (_m, name: string) => {
    const value = name.startsWith('x:') ? req.vars[name] : system[name];
    if (req.bodyType === 'application/json') return value === undefined ? '""' : JSON.stringify(value);
    return value === undefined ? '' : encodeURIComponent(String(value));
  });
}

export interface UploadCallbacksOptions {
  key: () => Promise<SigningKey>;
  publicKeyUrl: () => Promise<string>;
  metrics: Metrics;
  /** Every callback connects through it: the client chose the URL. */
  guard: GuardedClient;
}

/** Who asked for a callback, for the refusal's log line. */
export interface CallbackRequester {
  bucket: string;
  /** Undefined for an anonymous request. */
  accessKeyId?: string;
}

export interface CheckedCallback {
  req: UploadCallbackRequest;
  targets: CheckedTarget[];
}

type CallbackAnswer = { status: number; headers: Record<string, string>; body: Buffer };

/**
 * OSS upload callbacks: after the object is stored, the body is POSTed (signed as OSS signs
 * it) to each URL in turn until one answers 200; its answer goes back to the uploader. A
 * failure leaves the object stored and answers 203 CallbackFailed. A URL whose host is an
 * internal address (and not in events.callbackAllow) is refused with 400 before anything is
 * stored: the gateway sits inside a private network and must not be a proxy into it.
 */
export class UploadCallbacks {
  constructor(private readonly o: UploadCallbacksOptions) {}

  /** Resolves every URL once and checks where it points; throws InvalidArgument when one is not allowed. */
  async check(log: FastifyBaseLogger, req: UploadCallbackRequest, who: CallbackRequester): Promise<CheckedCallback> {
    const targets: CheckedTarget[] = [];
    for (const url of req.urls) {
      try {
        targets.push(await this.o.guard.check(url));
      } catch (err) {
        if (!(err instanceof TargetRefused)) throw err;
        this.o.metrics.uploadCallbacksRefused.inc({ reason: err.reason });
        log.warn({ bucket: who.bucket, accessKeyId: who.accessKeyId ?? 'anonymous', host: url.host, reason: err.reason }, 'upload callback refused: target not allowed');
        throw invalid('The callback URL points at an address that is not allowed as a callback target.');
      }
    }
    return { req, targets };
  }

  async run(log: FastifyBaseLogger, { req, targets }: CheckedCallback, stored: StoredObject): Promise<CallbackAnswer> {
    const body = renderCallbackBody(req, stored);
    let failure = '';
    for (const target of targets) {
      const url = target.url;
      try {
        const headers = { 'content-type': req.bodyType, ...(await callbackSignatureHeaders(await this.o.key(), await this.o.publicKeyUrl(), url, body)) };
        const res = await this.o.guard.post(target, headers, body, CALLBACK_TIMEOUT_MS, MAX_ANSWER_BYTES);
        if (res.status === 200) {
          this.o.metrics.uploadCallbacks.inc({ outcome: 'ok' });
          return { status: 200, headers: { etag: stored.etag, 'content-type': res.headers['content-type'] ?? 'application/json' }, body: res.body };
        }
        failure = `Error status : ${res.status}.`;
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        failure = e.name === 'TimeoutError' ? 'Callback request timed out.' : `Error connecting to the callback server: ${e.code ?? e.message}.`;
      }
      log.warn({ bucket: stored.bucket, object: stored.object, url: url.href, failure }, 'upload callback failed');
    }
    this.o.metrics.uploadCallbacks.inc({ outcome: 'failed' });
    throw errors.callbackFailed(failure, stored.etag);
  }
}
