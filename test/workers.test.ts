import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { get } from 'node:http';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { afterAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { eventually, ffmpegPush, type PushProcess } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startServerProcess, type ServerProcess } from './support/server-process.js';
import { KEY, type AliOss } from './support/test-app.js';

// `serve` with "workers": 2 on the embedded SQLite catalog: two gateway processes sharing the
// ports, one catalog file and one storage root; the rules hold across them as across nodes.
const pushes: PushProcess[] = [];
let server: ServerProcess | undefined;
let llServer: ServerProcess | undefined;
afterAll(async () => {
  for (const p of pushes) p.kill('SIGKILL');
  for (const s of [server, llServer]) s?.signal('SIGKILL');
  await Promise.all([server?.exited, llServer?.exited]);
});

/** A GET on a new connection (the cluster module hands each connection to one worker). */
function freshGet(url: string): Promise<{ status: number; text: string; body: Buffer; requestId: string }> {
  return new Promise((resolve, reject) => {
    get(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const body = Buffer.concat(chunks);
        resolve({ status: res.statusCode!, text: body.toString(), body, requestId: String(res.headers['x-oss-request-id']) });
      });
    }).on('error', reject);
  });
}

describe('serve with two workers on one SQLite catalog', () => {
  it('spreads publishers over both, answers for any channel from either, keeps one publisher per channel, kicks across processes and restarts a dead worker', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-workers-'));
    const configFile = join(dir, 'livechannel.json');
    writeFileSync(
      configFile,
      JSON.stringify({ workers: 2, dataDir: join(dir, 'data'), http: { port: 0 }, rtmp: { port: 0 }, logLevel: 'info', credentials: [KEY], buckets: [{ name: 'open', acl: 'public-read-write' }] }),
    );
    server = await startServerProcess(configFile);
    expect(server.output()).toMatch(/workers: 2 \(node ids \S+\/w1…w2\)/);
    const client = new OSS({ ...KEY, bucket: 'open', endpoint: `http://127.0.0.1:${server.httpPort}` }) as AliOss;
    const rtmp = (ch: string) => `rtmp://127.0.0.1:${server!.rtmpPort}/live/${ch}`;
    const long = await fixture('long.flv');
    const channels = ['w-a', 'w-b', 'w-c', 'w-d'];
    const config = { Description: '', Status: 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '20', PlaylistName: 'playlist.m3u8' } };
    for (const ch of channels) await client.putChannel(ch, config);
    const byChannel = new Map(channels.map((ch) => {
      const p = ffmpegPush(rtmp(ch), long);
      pushes.push(p);
      return [ch, p] as const;
    }));

    // every channel reads Live with its video from whichever worker answers
    for (let round = 0; round < 3; round++) {
      for (const ch of channels) {
        await eventually(async () => {
          const s = (await client.getChannelStatus(ch)).data;
          return s.Status === 'Live' && s.Video ? s : undefined;
        }, 15_000, `${ch} Live with video`);
      }
    }
    const started = [...server.output().matchAll(/"node":"([^"]+)"[^\n]*"msg":"publish started"/g)].map((m) => m[1]);
    expect(new Set(started).size).toBe(2); // both workers took publishers

    // a second publisher of a channel is refused whichever worker it reaches
    for (let i = 0; i < 2; i++) {
      const again = ffmpegPush(rtmp('w-a'), long, { loopSeconds: 3 });
      pushes.push(again);
      expect(await again.exited).not.toBe(0);
      expect(again.stderr()).toContain('is already being pushed to');
    }

    // disabling through either worker stops the publisher on whichever holds it, within 1 s
    const t0 = Date.now();
    await client.putChannelStatus('w-b', 'disabled');
    await byChannel.get('w-b')!.exited;
    expect(Date.now() - t0).toBeLessThan(1000);

    // /metrics sums the workers
    const metrics = await (await fetch(`http://127.0.0.1:${server.httpPort}/metrics`)).text();
    expect(metrics.match(/^livechannel_node_info\{node="[^"]+\/w[12]"\} 1$/gm)).toHaveLength(2);
    expect(metrics).toMatch(/^livechannel_publishers_live 3$/m);

    // kill -9 the worker holding w-c: the primary starts it again, and the publisher reconnects at once
    const holder = [...server.output().matchAll(/"pid":(\d+),"node":"[^"]+"[^\n]*"channel":"w-c"[^\n]*"msg":"publish started"/g)].map((m) => Number(m[1]))[0]!;
    process.kill(holder, 'SIGKILL');
    byChannel.get('w-c')!.kill();
    await eventually(() => (/worker \d exited \(SIGKILL\); starting it again/.test(server!.output()) ? true : undefined), 5000, 'the primary noticing');
    const back = await eventually(async () => {
      const p = ffmpegPush(rtmp('w-c'), long, { loopSeconds: 6 });
      pushes.push(p);
      const outcome = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('running'), 1000))]);
      return outcome === 'running' ? p : undefined;
    }, 10_000, 'w-c accepted again');
    expect(await back.exited).toBe(0);
    const history = await eventually(async () => {
      const r = (await client.getChannelHistory('w-c')).records as { EndTime?: string; EndReason?: string }[];
      return r.length === 2 && r.every((x) => x.EndTime) ? r : undefined;
    }, 10_000, 'w-c pushes closed');
    expect(history.map((r) => r.EndReason)).toEqual(['interrupted', 'unpublished']);
    expect(await ffmpegWarnings(`http://127.0.0.1:${server.httpPort}/open/w-c/playlist.m3u8`)).toBe('');

    // SIGTERM: every worker flushes and closes its pushes, then the primary exits 0
    server.signal('SIGTERM');
    expect(await server.exited).toBe(0);
    server = undefined;
  }, 120_000);

  it('answers LL-HLS (parts, blocking reloads, the hinted part) from either worker, whichever publishes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lc-workers-ll-'));
    const configFile = join(dir, 'livechannel.json');
    writeFileSync(
      configFile,
      JSON.stringify({ workers: 2, dataDir: join(dir, 'data'), http: { port: 0 }, rtmp: { port: 0 }, logLevel: 'info', credentials: [KEY], buckets: [{ name: 'open', acl: 'public-read-write' }] }),
    );
    llServer = await startServerProcess(configFile);
    const base = `http://127.0.0.1:${llServer.httpPort}`;
    const client = new OSS({ ...KEY, bucket: 'open', endpoint: base }) as AliOss;
    await client.putChannel('ll', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '5', SegmentFormat: 'fMP4', PartDuration: '0.5' } });
    const p = ffmpegPush(`rtmp://127.0.0.1:${llServer.rtmpPort}/live/ll`, await fixture('long.flv'));
    pushes.push(p);
    const playlist = `${base}/open/ll/playlist.m3u8`;
    await eventually(async () => ((await freshGet(playlist)).text.includes('#EXT-X-PART:') ? true : undefined), 20_000, 'LL parts');

    // each request on its own connection: both workers answer (their request ids differ in prefix), all with parts
    const answers = await Promise.all(Array.from({ length: 12 }, () => freshGet(playlist)));
    expect(new Set(answers.map((a) => a.requestId.slice(0, 12))).size).toBe(2);
    for (const a of answers) expect(a.text).toContain('#EXT-X-PART-INF:PART-TARGET=0.500');

    // blocking reloads and the hinted part, through whichever worker
    for (let i = 0; i < 6; i++) {
      const text = (await freshGet(playlist)).text;
      const hinted = /#EXT-X-PRELOAD-HINT:TYPE=PART,URI="playlist(\d+)\.(\d+)\.m4s"/.exec(text)!;
      const [msn, part] = [Number(hinted[1]), Number(hinted[2])];
      const [reload, hintedPart] = await Promise.all([freshGet(`${playlist}?_HLS_msn=${msn}&_HLS_part=${part}`), freshGet(`${base}/open/ll/playlist${msn}.${part}.m4s`)]);
      expect(reload.status).toBe(200);
      expect(reload.text.includes(`playlist${msn}.${part}.m4s`) || reload.text.includes(`playlist${msn}.m4s`)).toBe(true);
      expect(hintedPart.status).toBe(200);
      expect(hintedPart.body.subarray(4, 8).toString()).toBe('moof');
    }
    p.kill('SIGINT');
    await p.exited;
    llServer.signal('SIGTERM');
    expect(await llServer.exited).toBe(0);
    llServer = undefined;
  }, 90_000);
});
