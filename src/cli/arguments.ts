import { InvalidArgumentError } from 'commander';

/** A commander parser for an integer option within [min, max]. */
export function intInRange(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

/** A commander parser for a playlist name: ends in .m3u8, 6..128 characters, no "/". */
export function playlistName(value: string): string {
  if (!value.endsWith('.m3u8') || value.length < 6 || value.length > 128 || value.includes('/')) {
    throw new InvalidArgumentError('playlist name must end in .m3u8, be 6..128 characters and contain no "/"');
  }
  return value;
}
