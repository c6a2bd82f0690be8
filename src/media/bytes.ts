/**
 * A copy of `d[start, end)` in a fresh Uint8Array. Not `d.slice()`: on a Buffer (what the RTMP
 * reader hands over, in buffers it reuses) slice() returns a view, not a copy.
 */
export function copyBytes(d: Uint8Array, start = 0, end = d.length): Uint8Array {
  return new Uint8Array(d.subarray(start, end));
}
