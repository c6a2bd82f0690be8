import { closeSync, fstatSync, openSync, readFileSync, statSync } from 'node:fs';

/** A playlist's new last segment: when this process saw it, and when the file became readable. */
export interface PlaylistUpdate {
  at: number;
  /** The playlist's ctime: set by the rename that replaced it, free of this process's delays. */
  renamedAt: number;
}

/**
 * Watches playlists by polling their ctime. inotify would cost this process a wake-up for
 * every write in a watched folder, and servers write differently (nginx-rtmp appends each
 * frame to a segment next to its playlist; livechannel renames whole segments in), so the
 * load generator would work harder for one server than for another. A poll costs the same
 * for every server; the latency comes from the ctime, so the poll interval does not blur it.
 */
export function pollPlaylists(paths: readonly string[], everyMs: number, onUpdate: (index: number, update: PlaylistUpdate) => void): { close(): void } {
  const ctimes = new Float64Array(paths.length);
  const lastSegment: (string | undefined)[] = [];
  const check = (i: number) => {
    let renamedAt: number;
    let text: string;
    try {
      const st = statSync(paths[i]!, { throwIfNoEntry: false });
      if (!st || st.ctimeMs === ctimes[i]) return;
      const fd = openSync(paths[i]!, 'r');
      try {
        renamedAt = fstatSync(fd).ctimeMs;
        text = readFileSync(fd, 'utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      return; // not there yet, or replaced between the calls (the next poll sees it)
    }
    ctimes[i] = renamedAt;
    const last = text.trimEnd().split('\n').filter((l) => l.endsWith('.ts')).at(-1);
    if (!last || lastSegment[i] === last) return;
    lastSegment[i] = last;
    onUpdate(i, { at: Date.now(), renamedAt });
  };
  const timer = setInterval(() => {
    for (let i = 0; i < paths.length; i++) check(i);
  }, everyMs);
  return { close: () => clearInterval(timer) };
}
