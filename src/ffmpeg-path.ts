import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** Helpers to find ffmpeg and ffprobe, for the gateway (snapshots), its scripts and tests. */
function onPath(name: string): string | undefined {
  try {
    const out = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    return out || undefined;
  } catch {
    return undefined;
  }
}

function fromFfmpegStatic(): string | undefined {
  try {
    const path = createRequire(import.meta.url)('ffmpeg-static') as string | null;
    return path && existsSync(path) ? path : undefined;
  } catch {
    return undefined;
  }
}

/** What to do when no ffmpeg is found: the one piece of advice every caller prints. */
export const FFMPEG_ADVICE = 'install ffmpeg (`apt-get install ffmpeg`), set FFMPEG_PATH to an ffmpeg binary, or `npm install ffmpeg-static`';

/** ffmpeg from FFMPEG_PATH, then ffmpeg-static, then PATH. Throws with advice when absent. */
export function ffmpegPath(): string {
  const env = process.env.FFMPEG_PATH;
  if (env) {
    if (!existsSync(env)) throw new Error(`FFMPEG_PATH=${env} does not exist: ${FFMPEG_ADVICE}`);
    return env;
  }
  const found = fromFfmpegStatic() ?? onPath('ffmpeg');
  if (!found) throw new Error(`ffmpeg not found: ${FFMPEG_ADVICE}`);
  return found;
}

/** ffprobe from FFPROBE_PATH, beside ffmpeg, or on PATH. */
export function ffprobePath(): string {
  const env = process.env.FFPROBE_PATH;
  if (env) return env;
  const sibling = join(dirname(ffmpegPath()), 'ffprobe');
  if (existsSync(sibling)) return sibling;
  const found = onPath('ffprobe');
  if (!found) throw new Error('ffprobe not found: set FFPROBE_PATH or `apt-get install ffmpeg`');
  return found;
}
