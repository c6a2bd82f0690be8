/** The Low-Latency HLS playlist (RFC 8216bis: version 9, partial segments, blocking reload). */
import { renderEntries, targetDurationFor, type LivePlaylistState, type PlaylistEntry } from './playlist.js';

export interface PartEntry {
  uri: string;
  /** Seconds. */
  duration: number;
  independent: boolean;
}

/** The segment being written: its parts so far. */
export interface OpenSegment {
  sequence: number;
  discontinuity: boolean;
  map?: string;
  parts: PartEntry[];
}

export interface LowLatencyState {
  window: LivePlaylistState;
  /** Parts of recent closed segments, by sequence (listed for the last few of them). */
  partsOf: ReadonlyMap<number, readonly PartEntry[]>;
  open?: OpenSegment;
  /** Seconds. */
  partTarget: number;
  /** URI the next part will have (EXT-X-PRELOAD-HINT). */
  nextPartUri?: string;
  ended: boolean;
  /** Epoch ms of segments' first frames, where known (EXT-X-PROGRAM-DATE-TIME: players measure their latency by it). */
  startTimes?: ReadonlyMap<number, number>;
}

/** Closed segments whose parts are listed: the spec asks for those within 3 target durations of the end. */
export const SEGMENTS_WITH_PARTS = 3;

const seconds = (s: number) => s.toFixed(3);

function partLines(lines: string[], parts: readonly PartEntry[]): void {
  for (const p of parts) lines.push(`#EXT-X-PART:DURATION=${seconds(p.duration)},URI="${p.uri}"${p.independent ? ',INDEPENDENT=YES' : ''}`);
}

export function renderLowLatencyPlaylist(s: LowLatencyState): string {
  const entries: readonly PlaylistEntry[] = s.window.entries;
  const first = entries[0] ?? s.open;
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:9',
    `#EXT-X-TARGETDURATION:${Math.max(s.window.targetDuration, targetDurationFor(entries))}`,
    `#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,PART-HOLD-BACK=${seconds(3 * s.partTarget)}`,
    `#EXT-X-PART-INF:PART-TARGET=${seconds(s.partTarget)}`,
    `#EXT-X-MEDIA-SEQUENCE:${first ? first.sequence : 0}`,
  ];
  if (s.window.discontinuitySequence > 0) lines.push(`#EXT-X-DISCONTINUITY-SEQUENCE:${s.window.discontinuitySequence}`);
  const listedFrom = entries.length - SEGMENTS_WITH_PARTS;
  renderEntries(lines, entries, (e) => {
    const start = s.startTimes?.get(e.sequence);
    if (start !== undefined) lines.push(`#EXT-X-PROGRAM-DATE-TIME:${new Date(start).toISOString()}`);
    const parts = s.partsOf.get(e.sequence);
    if (parts && entries.indexOf(e) >= listedFrom) partLines(lines, parts);
  });
  const open = s.open;
  if (open && !s.ended) {
    if (open.discontinuity && entries.length > 0) lines.push('#EXT-X-DISCONTINUITY');
    const previousMap = entries[entries.length - 1]?.map;
    if (open.map !== undefined && open.map !== previousMap) lines.push(`#EXT-X-MAP:URI="${open.map}"`);
    partLines(lines, open.parts);
  }
  if (s.ended) lines.push('#EXT-X-ENDLIST');
  else if (s.nextPartUri) lines.push(`#EXT-X-PRELOAD-HINT:TYPE=PART,URI="${s.nextPartUri}"`);
  return lines.join('\n') + '\n';
}
