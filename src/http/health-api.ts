/**
 * GET /<channel>?live&comp=health[&from=&to=]: this gateway's extension to the LiveChannel API.
 * A publish live on this process answers second by second (its last hour); any node answers
 * from the ten-second summaries in the catalog (the last 24 h). XML like the rest of the API;
 * JSON with `Accept: application/json`.
 */
import { errors } from '../oss/errors.js';
import type { HealthSummary } from '../health/health-monitor.js';
import type { HealthSample } from '../health/health-ring.js';
import { SAMPLE_FIELDS } from '../health/health-ring.js';
import type { ChannelHealth } from '../health/channel-health.js';
import type { HealthReason, Verdict } from '../health/health-verdict.js';
import { toXml } from './xml.js';
import type { ApiDeps, ApiRequest, ApiResponse } from './livechannel-api.js';

/** What the health answer needs of the process's health monitor. */
export interface HealthSource {
  local(bucket: string, channel: string): ChannelHealth | undefined;
  summaries(bucket: string, channel: string, from: number, to: number): Promise<HealthSummary[]>;
}

const DAY_MS = 24 * 3600_000;
/** A summary newer than this still speaks for a publish live on another node. */
const FRESH_SUMMARY_MS = 30_000;

export interface HealthAnswer {
  status: 'Live' | 'Idle' | 'Disabled';
  verdict?: Verdict;
  reasons: HealthReason[];
  /** The channel's FragDuration (s): segment durations and keyframe intervals are judged against it. */
  fragDuration: number;
  /** One-second samples (only from the process the publish is live on). */
  samples: HealthSample[];
  /** Ten-second summaries from the catalog, before the first sample. */
  summaries: HealthSummary[];
}

/** "1733140800" (Unix seconds) or an ISO 8601 time → epoch ms. */
function parseTime(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const ms = /^\d+$/.test(value) ? Number(value) * 1000 : Date.parse(value);
  if (!Number.isFinite(ms)) throw errors.invalidArgument(`${name} must be Unix seconds or an ISO 8601 time.`, name, value);
  return ms;
}

export async function channelHealth(deps: ApiDeps, req: ApiRequest, now: number): Promise<HealthAnswer> {
  const channel = await deps.catalog.getChannel(req.bucket, req.key);
  if (!channel) throw errors.noSuchLiveChannel(req.key);
  const to = parseTime('to', req.query.get('to'), now);
  const from = parseTime('from', req.query.get('from'), to - 3600_000);
  if (from >= to) throw errors.invalidArgument('from must be before to.', 'from', req.query.get('from') ?? '');
  if (to - from > DAY_MS) throw errors.invalidArgument('from and to may be at most 24 hours apart.', 'from', req.query.get('from') ?? '');
  const source = deps.healthSource;
  const local = source?.local(req.bucket, req.key);
  const samples = local ? local.ring.range(from, to) : [];
  const summaryTo = samples.length ? Math.min(to, samples[0]!.time) : to;
  const summaries = source ? await source.summaries(req.bucket, req.key, from - 10_000, summaryTo) : [];
  const answer: HealthAnswer = { status: 'Idle', reasons: [], fragDuration: channel.fragDuration, samples, summaries: summaries.filter((s) => s.time + 10_000 > from) };
  if (channel.status === 'disabled') return { ...answer, status: 'Disabled' };
  if (local) return { ...answer, status: 'Live', verdict: local.verdict, reasons: local.reasons };
  if (!(await deps.live.stat(req.bucket, req.key))) return answer;
  // live on another node: its newest summary, when it is recent
  const newest = (await source?.summaries(req.bucket, req.key, now - FRESH_SUMMARY_MS, now + 1))?.at(-1);
  const reasons = (newest?.reasons ?? []).map((code) => ({ code, verdict: newest!.verdict === 'failing' ? ('failing' as const) : ('degraded' as const), message: code.replace(/_/g, ' ') }));
  return { ...answer, status: 'Live', ...(newest ? { verdict: newest.verdict, reasons } : {}) };
}

const pascal = (field: string) => field[0]!.toUpperCase() + field.slice(1);

function sampleXml(s: HealthSample): Record<string, unknown> {
  const out: Record<string, unknown> = { Time: new Date(s.time).toISOString() };
  for (const f of SAMPLE_FIELDS) if (s[f] !== undefined) out[pascal(f)] = s[f];
  return out;
}

export async function getLiveChannelHealth(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const answer = await channelHealth(deps, req, Date.now());
  if (/\bapplication\/json\b/.test(req.accept ?? '')) {
    return { status: 200, body: JSON.stringify(answer), headers: { 'content-type': 'application/json' } };
  }
  const doc = {
    LiveChannelHealth: {
      Status: answer.status,
      ...(answer.verdict ? { Verdict: answer.verdict } : {}),
      Reasons: answer.reasons.length ? { Reason: answer.reasons.map((r) => ({ Code: r.code, Verdict: r.verdict, Message: r.message })) } : '',
      FragDuration: answer.fragDuration,
      Samples: answer.samples.length ? { Sample: answer.samples.map(sampleXml) } : '',
      Summaries: answer.summaries.length ? { Summary: answer.summaries.map((s) => ({ ...sampleXml(s), Verdict: s.verdict, Reasons: s.reasons.join(',') })) } : '',
    },
  };
  return { status: 200, body: toXml(doc), headers: { 'content-type': 'application/xml' } };
}
