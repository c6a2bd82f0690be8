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
  return { pool: new DecoderPool({ ffmpeg, size: config.decoders, quality: config.quality, timeoutMs: config.timeoutMs, idleMs: config.idleMs, maxQueued: config.maxQueued, metrics }) };
}
