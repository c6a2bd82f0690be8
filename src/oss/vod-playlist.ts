import type { SegmentRecord } from '../catalog/catalog.js';
import { renderVodPlaylist, type PlaylistEntry } from '../media/playlist.js';

const encodeKey = (key: string) => key.split('/').map(encodeURIComponent).join('/');

/**
 * A VOD playlist of indexed segments, as OSS makes them: a discontinuity at each new push.
 * `channel` set: the playlist is stored in the channel's folder (PostVodPlaylist), URIs relative
 * to it; unset: served at the bucket root (GetVodPlaylist), URIs are the segments' keys.
 */
export function vodPlaylistText(segments: readonly SegmentRecord[], channel?: string): string {
  const uri = (key: string) => {
    if (channel === undefined) return encodeKey(key);
    return encodeKey(key.startsWith(`${channel}/`) ? key.slice(channel.length + 1) : `../${key}`);
  };
  return renderVodPlaylist(
    segments.map(
      (s, i): PlaylistEntry => ({
        sequence: i,
        uri: uri(s.key),
        duration: s.durationMs / 1000,
        discontinuity: i > 0 && (s.discontinuity || s.pushId !== segments[i - 1]!.pushId),
        ...(s.initKey !== undefined ? { map: uri(s.initKey) } : {}),
      }),
    ),
  );
}
