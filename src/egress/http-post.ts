import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

export interface PostAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

// kept-alive connections: a receiver gets a steady stream of small POSTs
const agents = { http: new HttpAgent({ keepAlive: true, maxSockets: 64 }), https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }) };

export class PostTimeoutError extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

/**
 * One POST with node:http (a fifth of fetch's CPU per request, which matters at hundreds of
 * events a second on the ingest's event loop). Rejects past `timeoutMs` or when the answer
 * grows past `maxAnswerBytes`. With `lookup`, the host name is resolved by it alone and the
 * connection is not pooled (the guarded client pins the address it checked).
 */
export function post(
  url: URL,
  headers: Record<string, string>,
  body: string | Buffer,
  timeoutMs: number,
  maxAnswerBytes = 3 * 1024 * 1024,
  lookup?: LookupFunction,
): Promise<PostAnswer> {
  const data = typeof body === 'string' ? Buffer.from(body) : body;
  const tls = url.protocol === 'https:';
  const agent = lookup ? false : tls ? agents.https : agents.http;
  return new Promise((resolve, reject) => {
    const req = (tls ? httpsRequest : httpRequest)(
      url,
      { method: 'POST', agent, lookup, headers: { ...headers, 'content-length': String(data.length) } },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > maxAnswerBytes) req.destroy(new Error(`answer larger than ${maxAnswerBytes} bytes`));
          else chunks.push(c);
        });
        res.on('end', () => {
          clearTimeout(timer);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
        res.on('error', () => {}); // the request's error handler rejects
      },
    );
    const timer = setTimeout(() => req.destroy(new PostTimeoutError(timeoutMs)), timeoutMs);
    req.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    req.end(data);
  });
}
