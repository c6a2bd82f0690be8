import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LivePackager } from '../../src/media/packager.js';
import { renderVodPlaylist } from '../../src/media/playlist.js';
export function runPackager(tags, options = {}, finish = true) {
    const packager = new LivePackager({ fragDuration: 2, fragCount: 3, ...options });
    const events = [];
    for (const t of tags)
        events.push(...packager.push(t.type, t.timestamp, t.data));
    if (finish)
        events.push(...packager.finish());
    return {
        packager,
        events,
        segments: events.flatMap((e) => (e.type === 'segment' ? [e.segment] : [])),
        playlists: events.flatMap((e) => (e.type === 'playlist' ? [e.text] : [])),
        notices: events.flatMap((e) => (e.type === 'notice' ? [{ code: e.code, message: e.message }] : [])),
    };
}
/** Writes segments and a VOD playlist of them into a fresh temp dir; returns the dir. */
export function writeSegments(segments) {
    const dir = mkdtempSync(join(tmpdir(), 'lc-seg-'));
    const paths = segments.map((s) => {
        const p = join(dir, s.uri);
        writeFileSync(p, s.data);
        return p;
    });
    const vod = join(dir, 'vod.m3u8');
    writeFileSync(vod, renderVodPlaylist(segments.map((s) => ({ sequence: s.sequence, uri: s.uri, duration: s.durationMs / 1000, discontinuity: s.discontinuity }))));
    return { dir, vod, paths };
}
/** Deterministic PRNG (mulberry32) for fuzz-style tests. */
export function prng(seed) {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}
//# sourceMappingURL=packager-run.js.map