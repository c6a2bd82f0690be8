import type { FastifyBaseLogger } from 'fastify';
import type { PublishHookConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { post, type PostAnswer } from '../egress/http-post.js';

/** What the receiver is asked about, as JSON. */
export interface PublishHookRequest {
  bucket: string;
  channel: string;
  remoteAddr: string;
  tcUrl: string;
  /** The push URL's parameters, without Signature. */
  query: Record<string, string>;
  nodeId: string;
  /** ISO 8601. */
  time: string;
}

export type PublishHookDecision = { allow: true } | { allow: false; reason: string };

/** The first 200 characters a receiver gave as its reason: a JSON {"message"} or plain text. */
function reasonFrom(status: number, body: string): string {
  let reason = body;
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed?.message === 'string') reason = parsed.message;
  } catch {
    /* plain text */
  }
  reason = reason.replace(/\s+/g, ' ').trim().slice(0, 200);
  return reason || `publish hook answered ${status}`;
}

/**
 * Asks the operator's server whether a publish may start (nginx-rtmp's on_publish, SRS's
 * on_publish): a POST after the signed-URL check, before Publish.Start. The wait is one
 * request on the event loop, so a slow receiver delays only the publisher it is asked about;
 * past `timeoutMs` the `onError` rule decides.
 */
export class PublishHook {
  constructor(
    private readonly cfg: PublishHookConfig,
    private readonly log: FastifyBaseLogger,
    private readonly metrics: Metrics,
  ) {}

  async ask(req: PublishHookRequest): Promise<PublishHookDecision> {
    const started = performance.now();
    const done = (decision: PublishHookDecision, outcome: string): PublishHookDecision => {
      this.metrics.publishHookSeconds.observe({ outcome }, (performance.now() - started) / 1000);
      return decision;
    };
    let res: PostAnswer;
    try {
      res = await post(new URL(this.cfg.url), { 'content-type': 'application/json' }, JSON.stringify(req), this.cfg.timeoutMs);
    } catch (err) {
      const e = err as Error;
      const why = e.name === 'TimeoutError' ? `did not answer within ${this.cfg.timeoutMs} ms` : `is unreachable (${e.message})`;
      this.log.warn({ bucket: req.bucket, channel: req.channel, url: this.cfg.url, onError: this.cfg.onError }, `publish hook ${why}`);
      if (this.cfg.onError === 'allow') return done({ allow: true }, 'error_allowed');
      return done({ allow: false, reason: `The publish hook ${why}; try again later.` }, 'error_denied');
    }
    if (res.status >= 200 && res.status < 300) return done({ allow: true }, 'allowed');
    return done({ allow: false, reason: reasonFrom(res.status, res.body.toString()) }, 'denied');
  }
}
