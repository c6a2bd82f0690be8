import { createRequire } from 'node:module';
import type { Page } from 'playwright-core';
import { eventually } from './ffmpeg-push.js';

const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

export interface PlayerState {
  /** hls.js errors, with where the playhead was and what was buffered (audio and video together) then. */
  errors: { type: string; details: string; fatal: boolean; at?: number; buffered?: string }[];
  stalls: number[];
  currentTime: number;
  startTime: number | null;
  frags: number[];
  ended: boolean;
  /** Now minus the playhead's program date time (EXT-X-PROGRAM-DATE-TIME), ms, sampled on timeupdate. */
  latencies: number[];
}

/**
 * Opens a page on `origin` (so requests are real cross-origin-capable fetches from an http page)
 * with hls.js, and starts playing `url`. Returns a reader of what the player went through.
 */
export async function playWithHlsJs(page: Page, origin: string, url: string, playbackRate = 1, options: { lowLatencyMode?: boolean } = {}): Promise<() => Promise<PlayerState>> {
  await page.goto(`${origin}/console/info.json`);
  await page.setContent('<video id="v" muted playsinline></video>');
  await page.addScriptTag({ path: HLS_JS });
  await page.evaluate(
    ({ url, playbackRate, lowLatencyMode }) => {
      const w = window as unknown as { Hls: any; playerState: PlayerState }; // eslint-disable-line @typescript-eslint/no-explicit-any
      const video = document.getElementById('v') as HTMLVideoElement;
      const state: PlayerState = { errors: [], stalls: [], currentTime: 0, startTime: null, frags: [], ended: false, latencies: [] };
      w.playerState = state;
      const hls = new w.Hls({ enableWorker: true, lowLatencyMode: lowLatencyMode ?? false });
      const ranges = () => Array.from({ length: video.buffered.length }, (_, i) => `${video.buffered.start(i).toFixed(3)}-${video.buffered.end(i).toFixed(3)}`).join(',');
      hls.on(w.Hls.Events.ERROR, (_e: unknown, d: { type: string; details: string; fatal: boolean }) =>
        state.errors.push({ type: d.type, details: d.details, fatal: d.fatal, at: video.currentTime, buffered: ranges() }),
      );
      hls.on(w.Hls.Events.FRAG_CHANGED, (_e: unknown, d: { frag: { sn: number } }) => state.frags.push(d.frag.sn));
      let waitingSince: number | null = null;
      video.addEventListener('waiting', () => {
        if (state.startTime !== null) waitingSince = performance.now();
      });
      video.addEventListener('playing', () => {
        if (waitingSince !== null) state.stalls.push(performance.now() - waitingSince);
        waitingSince = null;
        video.playbackRate = playbackRate;
      });
      video.addEventListener('timeupdate', () => {
        if (state.startTime === null && video.currentTime > 0) state.startTime = video.currentTime;
        state.currentTime = video.currentTime;
        const playing = hls.playingDate as Date | null;
        if (playing && !video.paused) state.latencies.push(Date.now() - playing.getTime());
      });
      video.addEventListener('ended', () => (state.ended = true));
      hls.loadSource(url);
      hls.attachMedia(video);
      void video.play().catch(() => {});
    },
    { url, playbackRate, lowLatencyMode: options.lowLatencyMode },
  );
  return () => page.evaluate(() => (window as unknown as { playerState: PlayerState }).playerState);
}

/** Reads the player until `done` says so; a fatal hls.js error fails at once. */
export async function waitForPlayer(read: () => Promise<PlayerState>, done: (s: PlayerState) => boolean, timeoutMs: number): Promise<PlayerState> {
  return eventually(async () => {
    const s = await read();
    if (s.errors.some((e) => e.fatal)) throw new Error(`fatal hls.js error: ${JSON.stringify(s.errors)}`);
    return done(s) ? s : undefined;
  }, timeoutMs, 'player progress');
}

/**
 * The errors a live play may not have. On a loaded machine the player can run dry at the live
 * edge; hls.js then nudges the playhead over the few milliseconds between what played and the
 * next fragment, and reports that as a non-fatal error: those nudges are allowed.
 */
export function unexpectedErrors(s: PlayerState): PlayerState['errors'] {
  return s.errors.filter((e) => e.fatal || (e.details !== 'bufferSeekOverHole' && e.details !== 'bufferNudgeOnStall'));
}

/**
 * A non-fatal stall in the first half second with the playhead inside what is buffered: the
 * decoder starting up on a loaded machine (Chromium decodes AV1 in software), not a gap in the
 * stream (that stalls with nothing buffered at the playhead).
 */
export function startupStall(e: PlayerState['errors'][number]): boolean {
  if (e.fatal || e.details !== 'bufferStalledError' || e.at === undefined || e.at >= 0.5) return false;
  const at = e.at;
  return (e.buffered ?? '').split(',').some((range) => {
    const [start, end] = range.split('-').map(Number);
    return start! <= at && at + 0.5 <= end!;
  });
}
