import type { Command } from 'commander';
import { signedGetQuery } from '../auth/oss-signature.js';
import type { HealthAnswer } from '../http/health-api.js';
import type { HealthSample } from '../health/health-ring.js';
import { type ApiTarget } from './api-client.js';
import { parseCliTime } from './cli-time.js';

const BARS = '▁▂▃▄▅▆▇█';
/** Columns of a sparkline: a narrow terminal still fits one per line. */
const WIDTH = 60;

/** The health answer as JSON, with a URL signed by the target's key (from and to are not sub-resources: unsigned, as OSS does). */
export async function fetchHealth(target: ApiTarget, bucket: string, channel: string, from: number, to: number): Promise<HealthAnswer> {
  const signed = signedGetQuery(bucket, channel, [['comp', 'health'], ['live', '']], target.accessKeyId, target.accessKeySecret, Math.floor(Date.now() / 1000) + 300);
  const params = new URLSearchParams([...signed, ['from', String(from)], ['to', String(to)]]);
  const url = `${target.endpoint.replace(/\/$/, '')}/${bucket}/${encodeURIComponent(channel)}?${params.toString().replace('live=&', 'live&')}`;
  let res: Response;
  try {
    res = await fetch(url, { headers: { accept: 'application/json' } });
  } catch (err) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(`${cause?.code ?? cause?.message ?? (err as Error).message} connecting to ${target.endpoint}`);
  }
  const text = await res.text();
  if (res.status !== 200) {
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1] ?? 'Error';
    const message = /<Message>([^<]*)<\/Message>/.exec(text)?.[1] ?? text.slice(0, 200);
    throw Object.assign(new Error(message), { code, status: res.status });
  }
  return JSON.parse(text) as HealthAnswer;
}

/** Values as one line of block characters, scaled from 0 to their largest (averaged into at most `width` columns). */
export function sparkline(values: readonly number[], width = WIDTH): string {
  if (values.length === 0) return '';
  const columns = Math.min(width, values.length);
  const cols: number[] = [];
  for (let c = 0; c < columns; c++) {
    const part = values.slice(Math.floor((c * values.length) / columns), Math.floor(((c + 1) * values.length) / columns));
    cols.push(part.reduce((a, b) => a + b, 0) / part.length);
  }
  const top = Math.max(...cols);
  return cols.map((v) => (top > 0 ? BARS[Math.min(BARS.length - 1, Math.floor((v / top) * (BARS.length - 1) + 0.5))] : BARS[0])).join('');
}

const kbit = (bps: number) => (bps >= 1e6 ? `${(bps / 1e6).toFixed(2)} Mbit/s` : `${Math.round(bps / 1000)} kbit/s`);

/** The answer for a terminal: status and verdict, each reason, then one sparkline per signal with its newest value. */
export function renderHealth(bucket: string, channel: string, a: HealthAnswer): string {
  const series: HealthSample[] = [...a.summaries, ...a.samples];
  const head = `${bucket}/${channel}  ${a.status}${a.verdict ? `  ${a.verdict.toUpperCase()}` : ''}  (FragDuration ${a.fragDuration} s; ${a.samples.length ? `${a.samples.length} one-second samples` : ''}${a.samples.length && a.summaries.length ? ' after ' : ''}${a.summaries.length ? `${a.summaries.length} ten-second summaries` : ''}${series.length ? '' : 'no samples in this range'})`;
  const lines = [head, ...a.reasons.map((r) => `  ${r.verdict}: ${r.message}`)];
  if (series.length === 0) return lines.join('\n');
  const last = series.at(-1)!;
  const rows: [string, (s: HealthSample) => number, (v: number) => string][] = [
    ['video', (s) => s.videoBitrate, kbit],
    ['audio', (s) => s.audioBitrate, kbit],
    ['fps', (s) => s.frameRate, (v) => v.toFixed(0)],
    ['keyframe interval', (s) => s.keyframeIntervalMs, (v) => `${(v / 1000).toFixed(1)} s`],
    ['cut → stored', (s) => s.storedLatencyMs, (v) => `${Math.round(v)} ms`],
    ['a/v drift', (s) => Math.abs(s.avDriftMs), (v) => `${Math.round(v)} ms`],
    ['storage retries', (s) => s.storageRetries, (v) => String(v)],
    ['dropped segments', (s) => s.droppedSegments, (v) => String(v)],
  ];
  if (series.some((s) => s.rttMs !== undefined)) rows.push(['srt rtt', (s) => s.rttMs ?? 0, (v) => `${Math.round(v)} ms`]);
  for (const [name, value, show] of rows) lines.push(`${name.padEnd(17)} ${sparkline(series.map(value)).padEnd(WIDTH)} ${show(value(last))}`);
  const from = new Date(series[0]!.time).toISOString().slice(11, 19);
  const to = new Date(last.time).toISOString().slice(11, 19);
  lines.push(`${''.padEnd(17)} ${from}${to.padStart(WIDTH - from.length)} UTC`);
  return lines.join('\n');
}

/** `channel health <bucket> <name> [--since 10m] [--watch]`. */
export function addHealthCommand(
  channel: Command,
  withApiOptions: (cmd: Command) => Command,
  targetOf: (opts: Record<string, unknown>) => ApiTarget,
): void {
  withApiOptions(
    channel
      .command('health')
      .description("a channel's health: the verdict with its reasons, and sparklines of bitrate, frame rate, keyframe interval and segment latency")
      .argument('<bucket>')
      .argument('<name>')
      .option('--since <time>', 'from when: relative (10m, 2h), ISO 8601 or Unix seconds', '10m')
      .option('--watch', 'redraw every 2 s until interrupted'),
  ).action(async (bucket: string, name: string, opts: Record<string, unknown>) => {
    const target = targetOf(opts);
    const since = String(opts.since);
    const draw = async () => {
      const now = Date.now();
      const from = parseCliTime(/^\d+[smhd]$/.test(since) ? `-${since}` : since, now);
      const answer = await fetchHealth(target, bucket, name, from, Math.ceil(now / 1000) + 1);
      return opts.json ? JSON.stringify(answer, null, 2) : renderHealth(bucket, name, answer);
    };
    if (!opts.watch) return console.log(await draw());
    for (;;) {
      const text = await draw();
      process.stdout.write(`\x1b[H\x1b[2J${text}\n`);
      await new Promise((r) => setTimeout(r, 2000));
    }
  });
}
