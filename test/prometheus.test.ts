import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { startTestApp, type TestApp } from './support/test-app.js';

// The shipped alert rules, checked by Debian's promtool; and a real Prometheus scraping a
// gateway with per-channel metrics on.
const run = promisify(execFile);
const RULES_DIR = resolve('deploy/prometheus');

function tool(name: string): string {
  const path = `/usr/bin/${name}`;
  if (!existsSync(path)) throw new Error(`${name} not found: apt-get install prometheus (it has ${name === 'promtool' ? 'promtool' : 'the server'})`);
  return path;
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

let t: TestApp | undefined;
let prometheus: ChildProcess | undefined;
let push: PushProcess | undefined;
afterAll(async () => {
  push?.kill();
  prometheus?.kill('SIGKILL');
  await t?.close();
});

describe('Prometheus', () => {
  it('the alert rules pass promtool check rules and their unit tests (promtool test rules)', async () => {
    const check = await run(tool('promtool'), ['check', 'rules', join(RULES_DIR, 'livechannel.rules.yml')]);
    expect(check.stdout).toMatch(/SUCCESS: 5 rules found/);
    const tested = await run(tool('promtool'), ['test', 'rules', 'livechannel.rules.test.yml'], { cwd: RULES_DIR });
    expect(tested.stdout).toMatch(/SUCCESS/);
  });

  it('a real Prometheus scrapes a gateway and a query returns the per-channel series of a live channel', async () => {
    t = await startTestApp({ metrics: { perChannel: true } });
    const media = t.client('media');
    await media.putChannel('promcam', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
    push = ffmpegPush(media.getRtmpUrl('promcam', { expires: 3600 }).replace(/^rtmp:\/\/[^/]+/, t.rtmpBase), await fixture('main.flv'), { loopSeconds: 60 });

    const dir = mkdtempSync(join(tmpdir(), 'lc-prom-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, evaluation_interval: 1s }',
        `rule_files: ["${join(RULES_DIR, 'livechannel.rules.yml')}"]`,
        'scrape_configs:',
        '  - job_name: livechannel',
        `    static_configs: [{ targets: ["127.0.0.1:${t.app.httpPort()}"] }]`,
      ].join('\n'),
    );
    prometheus = spawn(tool('prometheus'), [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`], { stdio: 'ignore' });
    const query = async (q: string) => {
      const res = await fetch(`http://127.0.0.1:${port}/api/v1/query?query=${encodeURIComponent(q)}`);
      const body = (await res.json()) as { data: { result: { metric: Record<string, string>; value: [number, string] }[] } };
      return body.data.result;
    };
    const video = await eventually(async () => {
      const r = await query('livechannel_channel_bitrate_bits_per_second{channel="promcam", track="video"} > 0').catch(() => []);
      return r.length ? r : undefined;
    }, 60_000, 'the per-channel bitrate in Prometheus');
    expect(video[0]!.metric).toMatchObject({ job: 'livechannel', bucket: 'media', channel: 'promcam', track: 'video' });
    expect(Number(video[0]!.value[1])).toBeGreaterThan(500_000);
    const verdict = await query('livechannel_channel_health{channel="promcam"}');
    expect(verdict.map((r) => r.value[1])).toEqual(['0']);
    const fps = await query('livechannel_channel_frame_rate{channel="promcam"}');
    expect(Number(fps[0]!.value[1])).toBeGreaterThan(20);
    expect(await query('livechannel_channels_by_verdict{verdict="healthy"}')).toEqual([expect.objectContaining({ value: [expect.any(Number), '1'] })]);
    // the shipped rules are loaded, and none fires for this healthy gateway
    const rules = (await (await fetch(`http://127.0.0.1:${port}/api/v1/rules`)).json()) as { data: { groups: { name: string; rules: { name: string; state: string }[] }[] } };
    const group = rules.data.groups.find((g) => g.name === 'livechannel')!;
    expect(group.rules.map((r) => r.name)).toContain('LivechannelChannelDegraded');
    expect(group.rules.filter((r) => r.state === 'firing')).toEqual([]);
  }, 120_000);
});
