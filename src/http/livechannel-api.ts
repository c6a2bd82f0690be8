import type { Catalog, Channel, SegmentRecord } from '../catalog/catalog.js';
import type { EventRecorder } from '../events/event-recorder.js';
import type { LiveSessions } from '../live/live-sessions.js';
import { md5ETag, type ObjectStore } from '../storage/object-store.js';
import { parseChannelConfiguration, validateChannelName, validatePlaylistName } from '../oss/channel-rules.js';
import { errors } from '../oss/errors.js';
import { vodPlaylistText } from '../oss/vod-playlist.js';
import type { UrlBuilder } from './urls.js';
import { parseXmlBody, toXml } from './xml.js';
import type { HealthSource } from './health-api.js';

export const HISTORY_LIMIT = 10;
export const MAX_VOD_SPAN_SECONDS = 24 * 60 * 60;

export interface ApiDeps {
  catalog: Catalog;
  live: LiveSessions;
  urls: UrlBuilder;
  storeFor(bucket: string): ObjectStore;
  /** Event notifications of channel changes and VOD playlists (none when absent). */
  recorder?: EventRecorder;
  /** The buckets this gateway serves (a Snapshot's DestBucket must be one of them). */
  buckets: readonly { name: string }[];
  /** Set when channels cannot have snapshots here: what to install (no ffmpeg was found). */
  snapshotsUnavailable?: string;
  /** Stream health (none when it is off). */
  healthSource?: HealthSource;
}

export interface ApiRequest {
  bucket: string;
  key: string;
  query: ReadonlyMap<string, string>;
  body: Buffer | undefined;
  /** The request's Accept header (the health answer is JSON when it asks for it). */
  accept?: string;
  /** Throws AccessDenied unless whoever sent the request may write to `bucket` (its key's buckets, or the ACL when anonymous). */
  authorizeWrite?: (bucket: string) => void;
}

export interface ApiResponse {
  status: number;
  body?: string;
  headers?: Record<string, string>;
}

const xml = (doc: Record<string, unknown>, status = 200): ApiResponse => ({
  status,
  body: toXml(doc),
  headers: { 'content-type': 'application/xml' },
});

const iso = (ms: number) => new Date(ms).toISOString();

async function requireChannel(deps: ApiDeps, bucket: string, name: string): Promise<Channel> {
  validateChannelName(name);
  const channel = await deps.catalog.getChannel(bucket, name);
  if (!channel) throw errors.noSuchLiveChannel(name);
  return channel;
}

function urlsOf(deps: ApiDeps, c: Pick<Channel, 'bucket' | 'name' | 'playlistName'>) {
  return {
    PublishUrls: { Url: deps.urls.publishUrl(c.bucket, c.name) },
    PlayUrls: { Url: deps.urls.playUrl(c.bucket, c.name, c.playlistName) },
  };
}

export async function putLiveChannel(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  validateChannelName(req.key);
  const config = parseChannelConfiguration(parseXmlBody(req.body), req.bucket);
  if (config.snapshot) {
    const dest = config.snapshot.destBucket;
    if (!deps.buckets.some((b) => b.name === dest)) {
      throw errors.invalidArgument(`Snapshot DestBucket "${dest}" is not a bucket this gateway serves.`, 'DestBucket', dest);
    }
    // the gateway writes the JPEGs there on the requester's behalf
    req.authorizeWrite?.(dest);
    if (deps.snapshotsUnavailable !== undefined) throw errors.snapshotsUnavailable(deps.snapshotsUnavailable);
  }
  if (await deps.live.stat(req.bucket, req.key)) throw errors.liveChannelInUse(req.key, 'recreating it');
  const recorder = deps.recorder;
  const channel = await deps.catalog.putChannel(
    req.bucket,
    req.key,
    config,
    undefined,
    recorder?.enabled ? (existed) => recorder.entries(existed ? 'channel.updated' : 'channel.created', req.bucket, req.key, { ...config }) : undefined,
  );
  return xml({ CreateLiveChannelResult: urlsOf(deps, channel) });
}

export async function putLiveChannelStatus(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const status = req.query.get('status') ?? '';
  if (status !== 'enabled' && status !== 'disabled') {
    throw errors.invalidArgument('status must be "enabled" or "disabled".', 'status', status);
  }
  await requireChannel(deps, req.bucket, req.key);
  await deps.catalog.setChannelStatus(req.bucket, req.key, status, undefined, deps.recorder?.entries('channel.status', req.bucket, req.key, { status }));
  if (status === 'disabled' && (await deps.live.stat(req.bucket, req.key))) {
    await deps.live.disconnect(req.bucket, req.key, 'the live channel was disabled');
  }
  return { status: 200 };
}

export async function getLiveChannelInfo(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const c = await requireChannel(deps, req.bucket, req.key);
  return xml({
    LiveChannelConfiguration: {
      Description: c.description,
      Status: c.status,
      Target: {
        Type: 'HLS',
        FragDuration: c.fragDuration,
        FragCount: c.fragCount,
        PlaylistName: c.playlistName,
        // this gateway's extensions, only where set: a TS channel's answer is OSS's own
        ...(c.hls?.segmentFormat ? { SegmentFormat: c.hls.segmentFormat } : {}),
        ...(c.hls?.partDuration !== undefined ? { PartDuration: c.hls.partDuration } : {}),
      },
    },
  });
}

export async function getLiveChannelStat(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const c = await requireChannel(deps, req.bucket, req.key);
  const live = await deps.live.stat(req.bucket, req.key);
  if (c.status === 'disabled') return xml({ LiveChannelStat: { Status: 'Disabled' } });
  if (!live) return xml({ LiveChannelStat: { Status: 'Idle' } });
  const stat: Record<string, unknown> = { Status: 'Live', ConnectedTime: iso(live.connectedTime), RemoteAddr: live.remoteAddr };
  if (live.video) {
    const v = live.video;
    stat.Video = { Width: v.width, Height: v.height, FrameRate: Math.round(v.frameRate), Bandwidth: Math.round(v.bandwidth), Codec: v.codec };
  }
  if (live.audio) {
    const a = live.audio;
    stat.Audio = { Bandwidth: Math.round(a.bandwidth), SampleRate: a.sampleRate, Codec: a.codec };
  }
  if (live.snapshot) {
    // livechannel's addition (SDKs pass unknown elements through): the newest snapshot
    const s = live.snapshot;
    stat.Snapshot = { DestBucket: s.bucket, Key: s.key, Time: iso(s.time), Width: s.width, Height: s.height };
  }
  if (live.link) {
    // livechannel's addition: how the publisher's link is doing (SRT's figures when over SRT)
    const l = live.link;
    stat.Link = {
      Protocol: l.protocol,
      ...(l.rttMs !== undefined ? { RttMs: l.rttMs } : {}),
      ...(l.latencyMs !== undefined ? { LatencyMs: l.latencyMs } : {}),
      ...(l.packetsReceived !== undefined ? { PacketsReceived: l.packetsReceived, PacketsLost: l.packetsLost, PacketsRetransmitted: l.packetsRetransmitted, PacketsDropped: l.packetsDropped, ReceiveBufferPackets: l.bufferedPackets } : {}),
    };
  }
  return xml({ LiveChannelStat: stat });
}

export async function getLiveChannelHistory(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  await requireChannel(deps, req.bucket, req.key);
  const pushes = await deps.catalog.recentPushes(req.bucket, req.key, HISTORY_LIMIT);
  const records = pushes.map((p) => ({
    StartTime: iso(p.startTime),
    ...(p.endTime === undefined ? {} : { EndTime: iso(p.endTime) }),
    RemoteAddr: p.remoteAddr,
    // livechannel's additions to the OSS record (SDKs pass unknown elements through)
    ...(p.endReason === undefined ? {} : { EndReason: p.endReason }),
    ...(p.nodeId ? { NodeId: p.nodeId } : {}),
  }));
  return xml({ LiveChannelHistory: records.length ? { LiveRecord: records } : '' });
}

export async function listLiveChannel(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const prefix = req.query.get('prefix') ?? '';
  const marker = req.query.get('marker') ?? '';
  const rawMax = req.query.get('max-keys');
  let maxKeys = 100;
  if (rawMax !== undefined) {
    if (!/^\d+$/.test(rawMax) || Number(rawMax) < 1 || Number(rawMax) > 1000) {
      throw errors.invalidArgument('max-keys must be an integer from 1 to 1000.', 'max-keys', rawMax);
    }
    maxKeys = Number(rawMax);
  }
  const { channels, truncated } = await deps.catalog.listChannels(req.bucket, { prefix, marker, maxKeys });
  const result: Record<string, unknown> = { Prefix: prefix, Marker: marker, MaxKeys: maxKeys, IsTruncated: truncated };
  if (truncated) result.NextMarker = channels.at(-1)!.name;
  if (channels.length) {
    result.LiveChannel = channels.map((c) => ({
      Name: c.name,
      Description: c.description,
      Status: c.status,
      LastModified: iso(c.lastModified),
      ...urlsOf(deps, c),
    }));
  }
  return xml({ ListLiveChannelResult: result });
}

export async function deleteLiveChannel(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  await requireChannel(deps, req.bucket, req.key);
  if (await deps.live.stat(req.bucket, req.key)) throw errors.liveChannelInUse(req.key, 'deleting it');
  await deps.catalog.deleteChannel(req.bucket, req.key, deps.recorder?.entries('channel.deleted', req.bucket, req.key));
  return { status: 204 };
}

function vodRange(query: ReadonlyMap<string, string>): { from: number; to: number } {
  const start = query.get('startTime');
  const end = query.get('endTime');
  if (start === undefined || !/^\d+$/.test(start)) throw errors.invalidArgument('startTime must be a Unix time in seconds.', 'startTime', start ?? '');
  if (end === undefined || !/^\d+$/.test(end)) throw errors.invalidArgument('endTime must be a Unix time in seconds.', 'endTime', end ?? '');
  const from = Number(start);
  const to = Number(end);
  if (to <= from) throw errors.invalidArgument('endTime must be greater than startTime.', 'endTime', end);
  if (to - from > MAX_VOD_SPAN_SECONDS) throw errors.invalidArgument('The time range must not exceed one day.', 'endTime', end);
  return { from, to };
}

/** The indexed segments in the query's range (InvalidArgument when there are none). */
async function vodSegments(deps: ApiDeps, bucket: string, channel: string, from: number, to: number): Promise<SegmentRecord[]> {
  await requireChannel(deps, bucket, channel);
  const segments = await deps.catalog.segmentsBetween(bucket, channel, from * 1000, to * 1000);
  if (segments.length === 0) {
    throw errors.invalidArgument('No ts file found in the specified time range.', 'startTime', String(from));
  }
  return segments;
}

export async function getVodPlaylist(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  // served at /{channel}?vod: URIs relative to the bucket root resolve to the segments
  const { from, to } = vodRange(req.query);
  const body = vodPlaylistText(await vodSegments(deps, req.bucket, req.key, from, to));
  return { status: 200, body, headers: { 'content-type': 'application/x-mpegURL', etag: md5ETag(body) } };
}

export async function postVodPlaylist(deps: ApiDeps, req: ApiRequest): Promise<ApiResponse> {
  const slash = req.key.indexOf('/');
  if (slash < 0) throw errors.invalidArgument('PostVodPlaylist needs a path of the form /ChannelName/PlaylistName.', 'PlaylistName', '');
  const channel = req.key.slice(0, slash);
  const name = req.key.slice(slash + 1);
  validateChannelName(channel);
  validatePlaylistName(name);
  const { from, to } = vodRange(req.query);
  const segments = await vodSegments(deps, req.bucket, channel, from, to);
  // written at {channel}/{name}: URIs relative to the channel's folder
  const key = `${channel}/${name}`;
  const info = await deps.storeFor(req.bucket).put(key, vodPlaylistText(segments, channel), 'application/x-mpegURL');
  // retention rewrites it when its oldest segments go: the range as it stood (segments pushed
  // later into a range that reaches the future are not in it)
  await deps.catalog.recordVodPlaylist({ bucket: req.bucket, channel, key, fromMs: from * 1000, toMs: segments.at(-1)!.startTime });
  await deps.catalog.outbox.append(deps.recorder?.entries('vod.created', req.bucket, channel, { key, startTime: from, endTime: to, segments: segments.length }) ?? []);
  return { status: 200, headers: { etag: info.etag } };
}
