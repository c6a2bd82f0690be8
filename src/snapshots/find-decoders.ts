import { execFileSync } from 'node:child_process';
import type { SnapshotsConfig } from '../config.js';
import { ffmpegPath } from '../ffmpeg-path.js';
import type { Metrics } from '../metrics.js';
import { DecoderPool } from './decoder-pool.js';

/** The gateway's snapshot decoders, or why there are none (no ffmpeg: what to install). */
export function findSnapshotDecoders(config: SnapshotsConfig, metrics: Metrics): { pool?: DecoderPool; unavailable?: string } {
  let ffmpeg: string;
  try {
    ffmpeg = ffmpegPath();
  } catch (err) {
    return { unavailable: (err as Error).message };
  }
  const zscale = hasFilter(ffmpeg, 'zscale');
  return { pool: new DecoderPool({ ffmpeg, size: config.decoders, quality: config.quality, timeoutMs: config.timeoutMs, idleMs: config.idleMs, maxQueued: config.maxQueued, zscale, metrics }) };
}

/** Whether this ffmpeg build has the video filter `name` (builds differ: zscale needs libzimg). */
export function hasFilter(ffmpeg: string, name: string): boolean {
  try {
    const list = execFileSync(ffmpeg, ['-hide_banner', '-filters'], { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'ignore'] });
    return new RegExp(`^ \\S+ ${name} `, 'm').test(list);
  } catch {
    return false;
  }
}
