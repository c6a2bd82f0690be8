import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
function onPath(name) {
    try {
        const out = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
        return out || undefined;
    }
    catch {
        return undefined;
    }
}
function fromFfmpegStatic() {
    try {
        const path = createRequire(import.meta.url)('ffmpeg-static');
        return path && existsSync(path) ? path : undefined;
    }
    catch {
        return undefined;
    }
}
/** ffmpeg from FFMPEG_PATH, then ffmpeg-static, then PATH. Throws with advice when absent. */
export function ffmpegPath() {
    const env = process.env.FFMPEG_PATH;
    if (env) {
        if (!existsSync(env))
            throw new Error(`FFMPEG_PATH=${env} does not exist`);
        return env;
    }
    const found = fromFfmpegStatic() ?? onPath('ffmpeg');
    if (!found)
        throw new Error('ffmpeg not found: set FFMPEG_PATH, install ffmpeg-static, or `apt-get install ffmpeg`');
    return found;
}
/** ffprobe from FFPROBE_PATH, beside ffmpeg, or on PATH. */
export function ffprobePath() {
    const env = process.env.FFPROBE_PATH;
    if (env)
        return env;
    const sibling = join(dirname(ffmpegPath()), 'ffprobe');
    if (existsSync(sibling))
        return sibling;
    const found = onPath('ffprobe');
    if (!found)
        throw new Error('ffprobe not found: set FFPROBE_PATH or `apt-get install ffmpeg`');
    return found;
}
//# sourceMappingURL=ffmpeg.js.map