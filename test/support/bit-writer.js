/** Builds bitstreams for tests: fixed-width fields and Exp-Golomb codes. */
export class BitWriter {
    bits = [];
    u(n, value) {
        for (let i = n - 1; i >= 0; i--)
            this.bits.push(Math.floor(value / 2 ** i) % 2);
        return this;
    }
    flag(b) {
        return this.u(1, b ? 1 : 0);
    }
    ue(value) {
        const v = value + 1;
        const len = Math.floor(Math.log2(v));
        this.u(len, 0);
        return this.u(len + 1, v);
    }
    se(value) {
        return this.ue(value <= 0 ? -2 * value : 2 * value - 1);
    }
    /** rbsp_trailing_bits, then bytes. */
    bytes() {
        const bits = [...this.bits, 1];
        while (bits.length % 8)
            bits.push(0);
        const out = new Uint8Array(bits.length / 8);
        bits.forEach((b, i) => {
            out[i >> 3] |= b << (7 - (i % 8));
        });
        return out;
    }
}
/** Inserts emulation-prevention bytes (00 00 0x → 00 00 03 0x for x ≤ 3). */
export function escapeRbsp(rbsp) {
    const out = [];
    let zeros = 0;
    for (const b of rbsp) {
        if (zeros >= 2 && b <= 3) {
            out.push(3);
            zeros = 0;
        }
        out.push(b);
        zeros = b === 0 ? zeros + 1 : 0;
    }
    return Uint8Array.from(out);
}
/** Writes an SPS NAL unit (header byte included) with the given fields. */
export function buildSps(s) {
    const w = new BitWriter().u(8, s.profileIdc).u(8, 0).u(8, s.levelIdc).ue(0);
    if ([100, 110, 122, 244].includes(s.profileIdc)) {
        w.ue(s.chromaFormatIdc ?? 1);
        if (s.chromaFormatIdc === 3)
            w.flag(false);
        w.ue(0).ue(0).flag(false).flag(s.scalingMatrix ?? false);
        if (s.scalingMatrix) {
            // first list present with a delta pattern, the rest absent
            w.flag(true);
            for (let j = 0; j < 16; j++)
                w.se(j === 0 ? 8 : 1);
            for (let i = 1; i < 8; i++)
                w.flag(false);
        }
    }
    w.ue(0); // log2_max_frame_num_minus4
    const poc = s.pocType ?? 0;
    w.ue(poc);
    if (poc === 0)
        w.ue(2);
    if (poc === 1)
        w.flag(false).se(-1).se(2).ue(2).se(3).se(-4);
    w.ue(4).flag(false).ue(s.widthMbs - 1).ue(s.heightMapUnits - 1);
    const frameMbsOnly = s.frameMbsOnly ?? true;
    w.flag(frameMbsOnly);
    if (!frameMbsOnly)
        w.flag(false);
    w.flag(true);
    w.flag(s.crop !== undefined);
    if (s.crop)
        for (const c of s.crop)
            w.ue(c);
    const vui = s.timing !== undefined || s.sar !== undefined;
    w.flag(vui);
    if (vui) {
        w.flag(s.sar !== undefined);
        if (s.sar !== undefined)
            w.u(8, s.sar);
        w.flag(false).flag(false).flag(false);
        w.flag(s.timing !== undefined);
        if (s.timing)
            w.u(32, s.timing.unitsInTick).u(32, s.timing.timeScale).flag(true);
    }
    return Uint8Array.from([0x67, ...escapeRbsp(w.bytes())]);
}
//# sourceMappingURL=bit-writer.js.map