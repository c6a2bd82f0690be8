import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import { ffmpegPath, ffprobePath } from '../../scripts/lib/ffmpeg.js';
const run = promisify(execFile);
const require = createRequire(import.meta.url);
/** Everything `ffmpeg -v warning` prints while decoding `input` fully (empty = clean). */
export async function ffmpegWarnings(input) {
    const { stderr } = await run(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'warning', '-i', input, '-f', 'null', '-'], {
        maxBuffer: 64 << 20,
    });
    return stderr.trim();
}
/** Packets of one stream ('v' or 'a'), times in 90 kHz ticks. */
export async function probePackets(input, stream) {
    const { stdout } = await run(ffprobePath(), ['-v', 'error', '-select_streams', stream, '-show_entries', 'packet=pts,dts,flags', '-of', 'json', input], { maxBuffer: 64 << 20 });
    const parsed = JSON.parse(stdout);
    return (parsed.packets ?? []).map((p) => ({
        pts: Number(p.pts),
        dts: Number(p.dts ?? p.pts),
        keyframe: p.flags.startsWith('K'),
    }));
}
export async function probeStreams(input) {
    const { stdout } = await run(ffprobePath(), ['-v', 'error', '-show_streams', '-of', 'json', input], { maxBuffer: 16 << 20 });
    return JSON.parse(stdout).streams;
}
/** Runs a TS segment through mux.js's Transmuxer (what video.js uses), as a player would. */
export function muxjsTransmux(segment) {
    const muxjs = require('mux.js');
    const t = new muxjs.mp4.Transmuxer({ remux: true });
    const result = { outputs: [], logs: [] };
    t.on('data', (d) => result.outputs.push({ type: d.type, bytes: d.data.byteLength, width: d.info?.width, height: d.info?.height }));
    t.on('log', (l) => result.logs.push(l));
    t.push(segment);
    t.flush();
    return result;
}
/** First PTS/DTS per track and first keyframe, from mux.js's TS inspector. */
export function muxjsInspect(segment) {
    const muxjs = require('mux.js');
    return muxjs.mp2t.tools.inspect(segment) ?? {};
}
//# sourceMappingURL=media-tools.js.map