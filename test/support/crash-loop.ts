import Database from 'better-sqlite3';
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OSS from 'ali-oss';
import { mulberry32 } from '../../scripts/lib/fuzz.js';
import { ffmpegPush } from './ffmpeg-push.js';
import { startServerProcess, type ServerProcess } from './server-process.js';

const KEY = { accessKeyId: 'crash', accessKeySecret: 'crash-secret' };

export interface CrashLoopResult {
  iterations: number;
  problems: string[];
}

function playlistsIn(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? playlistsIn(p) : e.name.endsWith('.m3u8') ? [p] : [];
  });
}

/**
 * kill -9 the gateway at random moments while ffmpeg pushes and an API client writes,
 * restart it, and check what a crash must not break.
 */
export async function crashLoop(iterations: number, input: string, seed = 1, log: (s: string) => void = () => {}): Promise<CrashLoopResult> {
  const rand = mulberry32(seed);
  const dir = mkdtempSync(join(tmpdir(), 'lc-crashloop-'));
  const dataDir = join(dir, 'data');
  const configFile = join(dir, 'livechannel.json');
  writeFileSync(configFile, JSON.stringify({ dataDir, http: { port: 0 }, rtmp: { port: 0 }, logLevel: 'warn', credentials: [KEY], buckets: [{ name: 'open', acl: 'public-read-write' }] }));
  const bucketDir = join(dataDir, 'buckets', 'open');
  const problems: string[] = [];
  const client = (s: ServerProcess) => new OSS({ ...KEY, bucket: 'open', endpoint: `http://127.0.0.1:${s.httpPort}` }) as any; // eslint-disable-line @typescript-eslint/no-explicit-any

  let server = await startServerProcess(configFile);
  for (const ch of ['a', 'b', 'c']) await client(server).putChannel(ch, { Target: { Type: 'HLS', FragDuration: '1', FragCount: '5' } });

  for (let i = 0; i < iterations; i++) {
    const pushes = ['a', 'b'].map((ch) => ffmpegPush(`rtmp://127.0.0.1:${server.rtmpPort}/live/${ch}`, input, { loopSeconds: 30 }));
    let writing = true;
    const writer = (async () => {
      const c = client(server);
      for (let n = 0; writing; n++) {
        await Promise.allSettled([
          c.put(`objects/${i}-${n}.bin`, Buffer.alloc(50_000 + Math.floor(rand() * 200_000), n)),
          c.putChannel('c', { Description: `iteration ${i} write ${n}`, Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } }),
          c.putChannelStatus('c', rand() < 0.5 ? 'enabled' : 'disabled'),
        ]);
      }
    })();
    const killAfter = 1500 + Math.floor(rand() * 3500);
    await new Promise((r) => setTimeout(r, killAfter));
    server.signal('SIGKILL');
    await server.exited;
    writing = false;
    await writer;
    for (const p of pushes) {
      p.kill();
      await p.exited;
    }
    log(`iteration ${i + 1}: killed after ${killAfter} ms`);

    // files: every playlist names only whole segments that exist
    for (const playlist of playlistsIn(bucketDir)) {
      const folder = join(playlist, '..');
      for (const uri of readFileSync(playlist, 'utf8').split('\n').filter((l) => l.endsWith('.ts'))) {
        const seg = join(folder, uri);
        if (!existsSync(seg)) problems.push(`iteration ${i + 1}: ${playlist} names missing ${uri}`);
        else if (statSync(seg).size === 0 || statSync(seg).size % 188 !== 0) problems.push(`iteration ${i + 1}: ${uri} is not whole TS packets`);
      }
    }
    server = await startServerProcess(configFile);
    // catalog: integrity, and no push left open
    const db = new Database(join(dataDir, 'catalog.db'), { readonly: true, fileMustExist: true });
    const integrity = String(db.pragma('integrity_check', { simple: true }));
    if (integrity !== 'ok') problems.push(`iteration ${i + 1}: integrity_check says ${integrity}`);
    const { n: open } = db.prepare('SELECT count(*) AS n FROM pushes WHERE end_time IS NULL').get() as { n: number };
    if (open !== 0) problems.push(`iteration ${i + 1}: ${open} pushes still open after restart`);
    db.close();
    const status = (await client(server).getChannelStatus('a')).data.Status;
    if (status !== 'Idle') problems.push(`iteration ${i + 1}: channel a is ${status} after restart`);
  }
  server.signal('SIGTERM');
  const code = await server.exited;
  if (code !== 0) problems.push(`final SIGTERM exit code ${code}`);
  return { iterations, problems };
}
