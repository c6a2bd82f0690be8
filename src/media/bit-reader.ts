/** Reads bits MSB-first from an RBSP (emulation-prevention bytes already removed). */
export class BitReader {
  private bytePos = 0;
  private bitPos = 0;

  constructor(private readonly data: Uint8Array) {}

  /** Bits read so far. */
  get position(): number {
    return this.bytePos * 8 + this.bitPos;
  }

  get bitsLeft(): number {
    return (this.data.length - this.bytePos) * 8 - this.bitPos;
  }

  readBit(): number {
    if (this.bytePos >= this.data.length) throw new RangeError('read past end of bitstream');
    const bit = (this.data[this.bytePos]! >> (7 - this.bitPos)) & 1;
    if (++this.bitPos === 8) {
      this.bitPos = 0;
      this.bytePos++;
    }
    return bit;
  }

  readBits(n: number): number {
    let value = 0;
    for (let i = 0; i < n; i++) value = value * 2 + this.readBit();
    return value;
  }

  skipBits(n: number): void {
    for (let i = 0; i < n; i++) this.readBit();
  }

  readFlag(): boolean {
    return this.readBit() === 1;
  }

  /** Unsigned Exp-Golomb, ue(v). */
  readUE(): number {
    let leadingZeros = 0;
    while (this.readBit() === 0) {
      if (++leadingZeros > 31) throw new RangeError('exp-golomb code too long');
    }
    return 2 ** leadingZeros - 1 + this.readBits(leadingZeros);
  }

  /** Signed Exp-Golomb, se(v). */
  readSE(): number {
    const k = this.readUE();
    return k % 2 === 1 ? (k + 1) / 2 : -(k / 2);
  }
}

/** Removes H.264 emulation-prevention bytes (00 00 03 → 00 00). */
export function unescapeRbsp(nal: Uint8Array): Uint8Array {
  const out = new Uint8Array(nal.length);
  let o = 0;
  let zeros = 0;
  for (let i = 0; i < nal.length; i++) {
    const b = nal[i]!;
    if (zeros >= 2 && b === 3) {
      zeros = 0;
      continue;
    }
    out[o++] = b;
    zeros = b === 0 ? zeros + 1 : 0;
  }
  return out.subarray(0, o);
}
