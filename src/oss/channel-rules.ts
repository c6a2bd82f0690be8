import type { ChannelConfig, HlsOptions, SnapshotConfig } from '../catalog/catalog.js';
import { errors } from './errors.js';

export const DEFAULT_FRAG_DURATION = 5;
export const DEFAULT_FRAG_COUNT = 3;
export const DEFAULT_PLAYLIST_NAME = 'playlist.m3u8';

/**
 * Channel names follow object-name rules (UTF-8, 1..1023 bytes, not starting with "\")
 * and may not contain "/". Control characters and the names "." and ".." are refused too,
 * since channel names become path segments in storage.
 */
export function validateChannelName(name: string): void {
  const bytes = Buffer.byteLength(name, 'utf8');
  if (bytes === 0) throw errors.invalidArgument('The live channel name must not be empty.', 'ChannelName', name);
  if (bytes > 1023) throw errors.invalidArgument('The live channel name must be at most 1023 bytes.', 'ChannelName', name);
  if (name.includes('/')) throw errors.invalidArgument('The live channel name must not contain "/".', 'ChannelName', name);
  if (name.startsWith('\\')) throw errors.invalidArgument('The live channel name must not start with "\\".', 'ChannelName', name);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw errors.invalidArgument('The live channel name must not contain control characters.', 'ChannelName', name);
  if (name === '.' || name === '..') throw errors.invalidArgument(`"${name}" is not a valid live channel name.`, 'ChannelName', name);
  if (name.includes('\ufffd')) throw errors.invalidArgument('The live channel name must be valid UTF-8.', 'ChannelName', name);
}

export function validatePlaylistName(name: string, argument = 'PlaylistName'): void {
  if (!name.endsWith('.m3u8')) throw errors.invalidArgument(`${argument} must end with ".m3u8".`, argument, name);
  if (name.length < 6 || name.length > 128) throw errors.invalidArgument(`${argument} must be 6 to 128 characters long.`, argument, name);
  if (name.includes('/') || name.includes('\\') || /[\u0000-\u001f\u007f]/.test(name)) {
    throw errors.invalidArgument(`${argument} must not contain "/", "\\" or control characters.`, argument, name);
  }
}

function text(value: unknown, element: string): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw errors.malformedXml(`<${element}> must contain text, not elements.`);
  return value;
}

function integer(value: string, element: string, min: number, max: number): number {
  if (!/^\d+$/.test(value) || Number(value) < min || Number(value) > max) {
    throw errors.invalidArgument(`${element} must be an integer from ${min} to ${max}.`, element, value);
  }
  return Number(value);
}

/**
 * The optional <Snapshot> element. Interval is required (1..100 s); DestBucket defaults to the
 * channel's own bucket (whether it is served is the caller's check); RoleName and NotifyTopic
 * are kept as given.
 */
function parseSnapshot(value: unknown, channelBucket: string): SnapshotConfig | undefined {
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'object' || value === null) throw errors.malformedXml('<Snapshot> must contain elements.');
  const s = value as Record<string, unknown>;
  const interval = text(s.Interval, 'Interval');
  if (interval === undefined) throw errors.invalidArgument('Snapshot needs an <Interval> in seconds (1 to 100).', 'Interval', '');
  const destBucket = text(s.DestBucket, 'DestBucket')?.trim() || channelBucket;
  return {
    roleName: text(s.RoleName, 'RoleName') ?? '',
    destBucket,
    notifyTopic: text(s.NotifyTopic, 'NotifyTopic') ?? '',
    interval: integer(interval.trim(), 'Interval', 1, 100),
  };
}

export const MIN_PART_DURATION = 0.2;
export const MAX_PART_DURATION = 2;

/**
 * This gateway's extensions of <Target> (OSS has neither): <SegmentFormat> TS (the default) or
 * fMP4, and <PartDuration> in seconds, which turns on LL-HLS partial segments (fMP4 only).
 */
function parseHlsOptions(t: Record<string, unknown>, fragDuration: number): HlsOptions | undefined {
  const format = text(t.SegmentFormat, 'SegmentFormat')?.trim();
  const part = text(t.PartDuration, 'PartDuration')?.trim();
  const fmp4 = format !== undefined && format.toLowerCase() === 'fmp4';
  if (format !== undefined && !fmp4 && format.toUpperCase() !== 'TS') {
    throw errors.invalidArgument('SegmentFormat must be "TS" or "fMP4".', 'SegmentFormat', format);
  }
  if (part === undefined) return fmp4 ? { segmentFormat: 'fMP4' } : undefined;
  if (!fmp4) throw errors.invalidArgument('PartDuration (LL-HLS) needs <SegmentFormat>fMP4</SegmentFormat>.', 'PartDuration', part);
  const seconds = Number(part);
  if (!/^\d+(\.\d{1,3})?$/.test(part) || seconds < MIN_PART_DURATION || seconds > Math.min(MAX_PART_DURATION, fragDuration)) {
    throw errors.invalidArgument(`PartDuration must be ${MIN_PART_DURATION} to ${MAX_PART_DURATION} seconds, and no longer than FragDuration.`, 'PartDuration', part);
  }
  return { segmentFormat: 'fMP4', partDuration: seconds };
}

/** Validates a parsed <LiveChannelConfiguration> document into a channel configuration. */
export function parseChannelConfiguration(doc: Record<string, unknown>, bucket: string): ChannelConfig {
  const root = doc.LiveChannelConfiguration;
  if (root === undefined || typeof root !== 'object' || root === null) {
    throw errors.malformedXml('The root element must be <LiveChannelConfiguration>.');
  }
  const c = root as Record<string, unknown>;
  const description = text(c.Description, 'Description') ?? '';
  if (Buffer.byteLength(description, 'utf8') > 128) {
    throw errors.invalidArgument('Description must be at most 128 bytes.', 'Description', description);
  }
  const status = text(c.Status, 'Status') ?? 'enabled';
  if (status !== 'enabled' && status !== 'disabled') {
    throw errors.invalidArgument('Status must be "enabled" or "disabled".', 'Status', status);
  }
  if (c.Target === undefined) throw errors.invalidArgument('The <Target> element is required.', 'Target', '');
  if (typeof c.Target !== 'object' || c.Target === null) throw errors.malformedXml('<Target> must contain elements.');
  const t = c.Target as Record<string, unknown>;
  const type = text(t.Type, 'Type');
  if (type !== 'HLS') throw errors.invalidArgument('Target Type must be "HLS".', 'Type', type ?? '');
  const fragDuration = text(t.FragDuration, 'FragDuration');
  const fragCount = text(t.FragCount, 'FragCount');
  if ((fragDuration === undefined) !== (fragCount === undefined)) {
    throw errors.invalidArgument(
      'FragDuration and FragCount must be given together (the defaults apply only when both are absent).',
      fragDuration === undefined ? 'FragDuration' : 'FragCount',
      '',
    );
  }
  const playlistName = text(t.PlaylistName, 'PlaylistName') ?? DEFAULT_PLAYLIST_NAME;
  validatePlaylistName(playlistName);
  const snapshot = parseSnapshot(c.Snapshot, bucket);
  const fragSeconds = fragDuration === undefined ? DEFAULT_FRAG_DURATION : integer(fragDuration, 'FragDuration', 1, 100);
  const hls = parseHlsOptions(t, fragSeconds);
  return {
    description,
    status,
    fragDuration: fragSeconds,
    fragCount: fragCount === undefined ? DEFAULT_FRAG_COUNT : integer(fragCount, 'FragCount', 1, 100),
    playlistName,
    ...(snapshot ? { snapshot } : {}),
    ...(hls ? { hls } : {}),
  };
}
