import { InvalidArgumentError } from 'commander';

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };

/** A time as the channel commands take it: ISO 8601, Unix seconds, "now", or relative ("-10m", "-2h"). Unix seconds out. */
export function parseCliTime(value: string, now = Date.now()): number {
  if (value === 'now') return Math.floor(now / 1000);
  const relative = /^-(\d+)([smhd])$/.exec(value);
  if (relative) return Math.floor(now / 1000) - Number(relative[1]) * UNITS[relative[2]!]!;
  if (/^\d{9,11}$/.test(value)) return Number(value);
  const ms = Date.parse(value);
  if (/^\d{4}-\d\d-\d\d/.test(value) && !Number.isNaN(ms)) return Math.floor(ms / 1000);
  throw new InvalidArgumentError('expected an ISO time (2026-11-25T20:00:00Z), Unix seconds, "now" or a relative time such as -10m');
}
