import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { ffmpegWarnings } from './support/media-tools.js';

const run = promisify(execFile);

async function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', 'src/main.ts', ...args], { cwd: process.cwd() });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('livechannel remux', () => {
  it('writes segments and playlists and prints a summary', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lc-cli-'));
    const r = await cli('remux', await fixture('main.flv'), out, '--frag-duration', '4', '--frag-count', '2', '--vod-playlist', 'all.m3u8');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^3 segments, 12\.\d{3} s, video 1280x720 H\.264 Main@3\.1 30 fps, audio AAC 44100 Hz 2 ch$/m);
    expect(readdirSync(out).sort()).toEqual(['all.m3u8', 'playlist.m3u8', 'playlist0.ts', 'playlist1.ts', 'playlist2.ts']);
  });

  it('writes fMP4 segments, their init segment and playlists that name it with --fmp4', async () => {
    const out = mkdtempSync(join(tmpdir(), 'lc-cli-'));
    const r = await cli('remux', await fixture('main.flv'), out, '--frag-duration', '4', '--vod-playlist', 'all.m3u8', '--fmp4');
    expect(r.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['all.m3u8', 'playlist-init0.mp4', 'playlist.m3u8', 'playlist0.m4s', 'playlist1.m4s', 'playlist2.m4s']);
    expect(readFileSync(join(out, 'all.m3u8'), 'utf8')).toContain('#EXT-X-MAP:URI="playlist-init0.mp4"');
    expect(await ffmpegWarnings(join(out, 'all.m3u8'))).toBe('');
  });

  it('refuses out-of-range options with a message naming the option', async () => {
    const r = await cli('remux', 'x.flv', '/tmp/never', '--frag-duration', '0');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('frag-duration must be an integer from 1 to 100');
    const p = await cli('remux', 'x.flv', '/tmp/never', '--playlist-name', 'x.txt');
    expect(p.stderr).toContain('playlist name must end in .m3u8');
  });

  it('reports unreadable and non-FLV input clearly', async () => {
    const missing = await cli('remux', '/nonexistent.flv', mkdtempSync(join(tmpdir(), 'lc-cli-')));
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/error: ENOENT.*nonexistent\.flv/);
    const dir = mkdtempSync(join(tmpdir(), 'lc-cli-'));
    writeFileSync(join(dir, 'bad.flv'), 'this is not a video');
    const bad = await cli('remux', join(dir, 'bad.flv'), join(dir, 'out'));
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('not an FLV file');
  });
});

describe('remuxFile', () => {
  it('fails with the storage error, not a crash, when a segment cannot be written', async () => {
    const { remuxFile } = await import('../src/tools/remux.js');
    const { mkdirSync } = await import('node:fs');
    const out = mkdtempSync(join(tmpdir(), 'lc-cli-'));
    mkdirSync(join(out, 'playlist2.ts')); // a directory where a segment should go
    await expect(
      remuxFile({ input: await fixture('main.flv'), outDir: out, fragDuration: 2, fragCount: 3, playlistName: 'playlist.m3u8' }),
    ).rejects.toThrow(/playlist2\.ts/);
  });
});
