import { spawn } from 'node:child_process';
import { ffmpegPath } from '../../src/ffmpeg-path.js';

export interface PushProcess {
  exited: Promise<number | null>;
  stderr(): string;
  kill(signal?: NodeJS.Signals): void;
}

/** Pushes an FLV file to an RTMP URL with ffmpeg (-c copy), in real time unless told otherwise. */
export function ffmpegPush(url: string, input: string, opts: { realtime?: boolean; tcUrl?: string; loopSeconds?: number } = {}): PushProcess {
  const args = ['-hide_banner', '-nostdin', '-v', 'warning'];
  if (opts.realtime !== false) args.push('-re');
  if (opts.loopSeconds) args.push('-stream_loop', '-1');
  args.push('-i', input);
  if (opts.loopSeconds) args.push('-t', String(opts.loopSeconds));
  args.push('-c', 'copy', '-f', 'flv', '-flvflags', 'no_duration_filesize');
  if (opts.tcUrl) args.push('-rtmp_tcurl', opts.tcUrl);
  args.push(url);
  const child = spawn(ffmpegPath(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c) => (err += c));
  return {
    exited: new Promise((resolve) => child.on('exit', (code) => resolve(code))),
    stderr: () => err,
    kill: (signal = 'SIGKILL') => child.kill(signal),
  };
}

/** Polls `check` every 100 ms until it returns a value, or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, timeoutMs = 15_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}
