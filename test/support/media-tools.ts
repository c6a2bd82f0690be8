import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { ffmpegPath, ffprobePath } from '../../src/ffmpeg-path.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);

/** Everything `ffmpeg -v warning` prints while decoding `input` fully (empty = clean). */
export async function ffmpegWarnings(input: string): Promise<string> {
  // output timestamps in the input's 90 kHz, not in 1/frame rate: ffmpeg can guess a 30 fps
  // stream as 29.97 from a playlist whose first push is short, and then two frames 33.3 ms apart
  // round to one timestamp ("non monotonically increasing dts to muxer") though the input is fine
  const { stderr } = await run(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'warning', '-i', input, '-enc_time_base', '-1', '-f', 'null', '-'], {
    maxBuffer: 64 << 20,
  });
  return stderr.trim();
}

/**
 * ffmpeg's warnings for a playlist; when there are any, each segment's first and last video
 * and audio timestamps (90 kHz) follow them, so that a failure shows where the timeline broke.
 */
export async function playlistWarnings(playlistUrl: string): Promise<string> {
  const warnings = await ffmpegWarnings(playlistUrl);
  if (!warnings) return '';
  const text = await (await fetch(playlistUrl)).text();
  const lines: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('#EXT-X-DISCONTINUITY')) lines.push('-- discontinuity');
    if (!line || line.startsWith('#')) continue;
    const url = new URL(line, playlistUrl).href;
    const span = async (stream: 'v' | 'a') => {
      const p = await probePackets(url, stream).catch(() => []);
      return p.length ? `${p[0]!.dts}..${p.at(-1)!.dts} (${p.length})` : 'none';
    };
    lines.push(`${line}: video ${await span('v')}, audio ${await span('a')}`);
  }
  return `${warnings}\n${lines.join('\n')}`;
}

export interface ProbedPacket {
  pts: number;
  dts: number;
  keyframe: boolean;
}

/** Packets of one stream ('v' or 'a'), times in 90 kHz ticks. */
export async function probePackets(input: string, stream: 'v' | 'a'): Promise<ProbedPacket[]> {
  const { stdout } = await run(
    ffprobePath(),
    ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts,dts,flags', '-of', 'json', input],
    { maxBuffer: 64 << 20 },
  );
  const parsed = JSON.parse(stdout) as { packets?: { pts?: number; dts?: number; flags: string }[] };
  return (parsed.packets ?? []).map((p) => ({
    pts: Number(p.pts),
    dts: Number(p.dts ?? p.pts),
    keyframe: p.flags.startsWith('K'),
  }));
}

export interface ProbedStream {
  codec_name: string;
  codec_type: string;
  codec_tag_string?: string;
  width?: number;
  height?: number;
  profile?: string;
  sample_rate?: string;
  channels?: number;
}

export async function probeStreams(input: string): Promise<ProbedStream[]> {
  const { stdout } = await run(ffprobePath(), ['-v', 'error', '-show_streams', '-of', 'json', input], { maxBuffer: 16 << 20 });
  return (JSON.parse(stdout) as { streams: ProbedStream[] }).streams;
}

export interface TransmuxResult {
  /** 'combined', 'video' or 'audio' data events, as video.js would receive them. */
  outputs: { type: string; bytes: number; width?: number; height?: number }[];
  logs: { level: string; message: string }[];
}

/** Runs a TS segment through mux.js's Transmuxer (what video.js uses), as a player would. */
export function muxjsTransmux(segment: Uint8Array): TransmuxResult {
  const muxjs = require('mux.js') as {
    mp4: { Transmuxer: new (opts: object) => { on(e: string, f: (x: any) => void): void; push(d: Uint8Array): void; flush(): void } };
  };
  const t = new muxjs.mp4.Transmuxer({ remux: true });
  const result: TransmuxResult = { outputs: [], logs: [] };
  t.on('data', (d) =>
    result.outputs.push({ type: d.type, bytes: d.data.byteLength, width: d.info?.width, height: d.info?.height }),
  );
  t.on('log', (l) => result.logs.push(l));
  t.push(segment);
  t.flush();
  return result;
}

/** First PTS/DTS per track and first keyframe, from mux.js's TS inspector. */
export function muxjsInspect(segment: Uint8Array): {
  video?: { pts: number; dts: number }[];
  audio?: { pts: number; dts: number }[];
  firstKeyFrame?: { pts: number; dts: number };
} {
  const muxjs = require('mux.js') as { mp2t: { tools: { inspect(b: Uint8Array): any } } };
  return muxjs.mp2t.tools.inspect(segment) ?? {};
}
