import { BitWriter, escapeRbsp } from '../../src/media/bit-writer.js';

export { BitWriter, escapeRbsp };

export interface SpsSpec {
  profileIdc: number;
  levelIdc: number;
  widthMbs: number;
  heightMapUnits: number;
  frameMbsOnly?: boolean;
  chromaFormatIdc?: number;
  crop?: [number, number, number, number];
  timing?: { unitsInTick: number; timeScale: number };
  sar?: number;
  scalingMatrix?: boolean;
  pocType?: number;
}

/** Writes an SPS NAL unit (header byte included) with the given fields. */
export function buildSps(s: SpsSpec): Uint8Array {
  const w = new BitWriter().u(8, s.profileIdc).u(8, 0).u(8, s.levelIdc).ue(0);
  if ([100, 110, 122, 244].includes(s.profileIdc)) {
    w.ue(s.chromaFormatIdc ?? 1);
    if (s.chromaFormatIdc === 3) w.flag(false);
    w.ue(0).ue(0).flag(false).flag(s.scalingMatrix ?? false);
    if (s.scalingMatrix) {
      // first list present with a delta pattern, the rest absent
      w.flag(true);
      for (let j = 0; j < 16; j++) w.se(j === 0 ? 8 : 1);
      for (let i = 1; i < 8; i++) w.flag(false);
    }
  }
  w.ue(0); // log2_max_frame_num_minus4
  const poc = s.pocType ?? 0;
  w.ue(poc);
  if (poc === 0) w.ue(2);
  if (poc === 1) w.flag(false).se(-1).se(2).ue(2).se(3).se(-4);
  w.ue(4).flag(false).ue(s.widthMbs - 1).ue(s.heightMapUnits - 1);
  const frameMbsOnly = s.frameMbsOnly ?? true;
  w.flag(frameMbsOnly);
  if (!frameMbsOnly) w.flag(false);
  w.flag(true);
  w.flag(s.crop !== undefined);
  if (s.crop) for (const c of s.crop) w.ue(c);
  const vui = s.timing !== undefined || s.sar !== undefined;
  w.flag(vui);
  if (vui) {
    w.flag(s.sar !== undefined);
    if (s.sar !== undefined) w.u(8, s.sar);
    w.flag(false).flag(false).flag(false);
    w.flag(s.timing !== undefined);
    if (s.timing) w.u(32, s.timing.unitsInTick).u(32, s.timing.timeScale).flag(true);
  }
  return Uint8Array.from([0x67, ...escapeRbsp(w.bytes())]);
}
