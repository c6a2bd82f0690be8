import { crc32Mpeg } from '../../src/media/crc32-mpeg.js';
/** Splits a transport stream into packets, checking sync bytes and sizes. */
export function readTsPackets(ts) {
    if (ts.length % 188 !== 0)
        throw new Error(`TS length ${ts.length} is not a multiple of 188`);
    const out = [];
    for (let o = 0; o < ts.length; o += 188) {
        if (ts[o] !== 0x47)
            throw new Error(`lost sync at byte ${o}`);
        const pid = ((ts[o + 1] & 0x1f) << 8) | ts[o + 2];
        const afc = (ts[o + 3] >> 4) & 3;
        let p = o + 4;
        let pcr;
        let randomAccess = false;
        if (afc & 2) {
            const afLen = ts[p];
            if (afLen > 0) {
                const flags = ts[p + 1];
                randomAccess = (flags & 0x40) !== 0;
                if (flags & 0x10) {
                    const b = ts.subarray(p + 2, p + 8);
                    pcr = b[0] * 2 ** 25 + b[1] * 2 ** 17 + b[2] * 2 ** 9 + b[3] * 2 + (b[4] >> 7);
                }
            }
            p += 1 + afLen;
            if (p > o + 188)
                throw new Error(`adaptation field overruns packet at ${o}`);
        }
        out.push({
            pid,
            pusi: (ts[o + 1] & 0x40) !== 0,
            cc: ts[o + 3] & 15,
            hasPayload: (afc & 1) !== 0,
            pcr,
            randomAccess,
            payload: ts.subarray(p, o + 188),
        });
    }
    return out;
}
/** Checks a PSI section (PAT/PMT) in a payload-unit-start packet; returns the section bytes. */
export function readPsiSection(payload) {
    const pointer = payload[0];
    const s = payload.subarray(1 + pointer);
    const length = ((s[1] & 0x0f) << 8) | s[2];
    const section = s.subarray(0, 3 + length);
    const crc = crc32Mpeg(section, 0, section.length - 4);
    const stored = ((section[section.length - 4] << 24) | (section[section.length - 3] << 16) | (section[section.length - 2] << 8) | section[section.length - 1]) >>> 0;
    if (crc !== stored)
        throw new Error('PSI CRC mismatch');
    return section;
}
export function readPesTimestamp(b, o) {
    return ((b[o] >> 1) & 7) * 2 ** 30 + (b[o + 1] << 22) + ((b[o + 2] >> 1) << 15) + (b[o + 3] << 7) + (b[o + 4] >> 1);
}
/** Reassembles PES packets per PID. */
export function readPes(ts) {
    const open = new Map();
    const done = [];
    const finish = (pid) => {
        const parts = open.get(pid);
        if (!parts)
            return;
        const all = Buffer.concat(parts);
        if (all[0] !== 0 || all[1] !== 0 || all[2] !== 1)
            throw new Error(`PES start code missing on PID ${pid}`);
        const flags = all[7];
        const headerLen = all[8];
        const pts = flags & 0x80 ? readPesTimestamp(all, 9) : -1;
        const dts = flags & 0x40 ? readPesTimestamp(all, 14) : pts;
        done.push({ pid, streamId: all[3], pts, dts, payload: all.subarray(9 + headerLen) });
        open.delete(pid);
    };
    for (const p of readTsPackets(ts)) {
        if (p.pid === 0 || p.pid === 0x1000 || !p.hasPayload)
            continue;
        if (p.pusi)
            finish(p.pid);
        if (p.pusi)
            open.set(p.pid, []);
        open.get(p.pid)?.push(p.payload);
    }
    for (const pid of [...open.keys()])
        finish(pid);
    return done;
}
//# sourceMappingURL=ts-packets.js.map