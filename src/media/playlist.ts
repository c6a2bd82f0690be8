/** HLS playlist rendering (RFC 8216: version 3 for MPEG-TS, 6 with fMP4's EXT-X-MAP). */

export interface PlaylistEntry {
  sequence: number;
  uri: string;
  /** Seconds. */
  duration: number;
  /** The timeline breaks before this segment. */
  discontinuity: boolean;
  /** fMP4: URI of the init segment it needs (EXT-X-MAP). */
  map?: string;
}

export interface LivePlaylistState {
  entries: PlaylistEntry[];
  /** Discontinuities that have left the window (EXT-X-DISCONTINUITY-SEQUENCE). */
  discontinuitySequence: number;
  /** Largest target duration announced so far; it never shrinks. */
  targetDuration: number;
}

export function targetDurationFor(entries: readonly PlaylistEntry[], floor = 1): number {
  let t = floor;
  for (const e of entries) t = Math.max(t, Math.ceil(e.duration - 0.0005));
  return t;
}

function formatDuration(seconds: number): string {
  return seconds.toFixed(3);
}

/** Renders the segments; `beforeUri` adds lines just before a segment's URI (LL-HLS parts). */
export function renderEntries(lines: string[], entries: readonly PlaylistEntry[], beforeUri?: (e: PlaylistEntry) => void): void {
  let map: string | undefined;
  for (const e of entries) {
    if (e.discontinuity) lines.push('#EXT-X-DISCONTINUITY');
    if (e.map !== undefined && e.map !== map) lines.push(`#EXT-X-MAP:URI="${e.map}"`);
    map = e.map;
    beforeUri?.(e);
    lines.push(`#EXTINF:${formatDuration(e.duration)},`, e.uri);
  }
}

/** The lowest version that allows what the entries use. */
export function playlistVersion(entries: readonly PlaylistEntry[]): number {
  return entries.some((e) => e.map !== undefined) ? 6 : 3;
}

export function renderLivePlaylist(state: LivePlaylistState, ended: boolean): string {
  const first = state.entries[0];
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${playlistVersion(state.entries)}`,
    `#EXT-X-TARGETDURATION:${Math.max(state.targetDuration, targetDurationFor(state.entries))}`,
    `#EXT-X-MEDIA-SEQUENCE:${first ? first.sequence : 0}`,
  ];
  if (state.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${state.discontinuitySequence}`);
  renderEntries(lines, state.entries);
  if (ended) lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/** A complete (VOD) playlist: every entry, EXT-X-ENDLIST. */
export function renderVodPlaylist(entries: readonly PlaylistEntry[]): string {
  const lines = [
    '#EXTM3U',
    `#EXT-X-VERSION:${playlistVersion(entries)}`,
    `#EXT-X-TARGETDURATION:${targetDurationFor(entries)}`,
    '#EXT-X-MEDIA-SEQUENCE:0',
    '#EXT-X-PLAYLIST-TYPE:VOD',
  ];
  // A VOD playlist starts fresh, so a leading discontinuity means nothing.
  renderEntries(lines, entries.map((e, i) => (i === 0 && e.discontinuity ? { ...e, discontinuity: false } : e)));
  lines.push('#EXT-X-ENDLIST');
  return lines.join('\n') + '\n';
}

/** The rolling live window: the last `size` segments. */
export class LiveWindow {
  readonly state: LivePlaylistState;

  constructor(
    readonly size: number,
    resume?: LivePlaylistState,
  ) {
    this.state = resume
      ? { ...resume, entries: [...resume.entries] }
      : { entries: [], discontinuitySequence: 0, targetDuration: 1 };
  }

  /** Adds a segment; returns the entries that left the window. */
  push(entry: PlaylistEntry): PlaylistEntry[] {
    const s = this.state;
    s.entries.push(entry);
    s.targetDuration = Math.max(s.targetDuration, targetDurationFor([entry]));
    const expired = s.entries.length > this.size ? s.entries.splice(0, s.entries.length - this.size) : [];
    for (const e of expired) if (e.discontinuity) s.discontinuitySequence++;
    return expired;
  }

  render(ended: boolean): string {
    return renderLivePlaylist(this.state, ended);
  }
}
