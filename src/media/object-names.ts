import type { Container } from './packager-events.js';

/**
 * How a channel's objects are named after its playlist (`playlist.m3u8`): segments
 * `playlist<N>.ts` (OSS's rule) or `playlist<N>.m4s`, fMP4 init segments `playlist-init<N>.mp4`
 * (N: the first segment that needs it), LL-HLS parts `playlist<N>.<part>.m4s`.
 */
export function objectNames(playlistName: string, container: Container) {
  const base = playlistName.replace(/\.m3u8$/, '');
  return {
    segmentUri: (sequence: number) => `${base}${sequence}.${container === 'fmp4' ? 'm4s' : 'ts'}`,
    initUri: (sequence: number) => `${base}-init${sequence}.mp4`,
    partUri: (sequence: number, index: number) => `${base}${sequence}.${index}.m4s`,
  };
}
