import type { FastifyBaseLogger } from 'fastify';
import type { Catalog, Channel, PlaylistResume, PushRecord } from '../catalog/catalog.js';
import type { LiveStat } from '../live/live-sessions.js';
import { TAG_AUDIO, TAG_VIDEO } from '../media/flv.js';
import { LivePackager, type PackagerEvent } from '../media/packager.js';
import type { ObjectStore } from '../storage/object-store.js';
import { RateMeter } from './rate-meter.js';
import type { MediaSink } from './rtmp-connection.js';

export interface LiveSessionOptions {
  bucket: string;
  channel: Channel;
  playlistName: string;
  remoteAddr: string;
  catalog: Catalog;
  store: ObjectStore;
  log: FastifyBaseLogger;
  now: () => number;
  /** Called once the session has flushed everything and closed its history record. */
  onEnded: (session: LiveSession) => void;
}

type Job = { event: PackagerEvent; resume?: PlaylistResume };

/**
 * One publish: RTMP messages in, segments and playlists out to storage, in order.
 * A playlist is written only after every segment it names is stored.
 */
export class LiveSession implements MediaSink {
  readonly bucket: string;
  readonly channelName: string;
  readonly remoteAddr: string;
  readonly connectedTime: number;
  /** Set by the ingest once the RTMP connection is known, so that the API can stop it. */
  stopPublisher: ((reason: string) => Promise<void>) | undefined;
  readonly stats = { segmentsWritten: 0, segmentsFailed: 0, playlistsWritten: 0, bytesIn: 0 };
  private readonly packager: LivePackager;
  private readonly videoRate = new RateMeter();
  private readonly audioRate = new RateMeter();
  private readonly playlistKey: string;
  private readonly failedUris = new Set<string>();
  private push: PushRecord | undefined;
  private firstMediaWall: number | undefined;
  private queue: Promise<void> = Promise.resolve();
  private ended: Promise<void> | undefined;

  private constructor(private readonly o: LiveSessionOptions, resume: PlaylistResume | undefined) {
    this.bucket = o.bucket;
    this.channelName = o.channel.name;
    this.remoteAddr = o.remoteAddr;
    this.connectedTime = o.now();
    this.playlistKey = `${o.channel.name}/${o.playlistName}`;
    const base = o.playlistName.replace(/\.m3u8$/, '');
    this.packager = new LivePackager({
      fragDuration: o.channel.fragDuration,
      fragCount: o.channel.fragCount,
      segmentUri: (n) => `${base}${n}.ts`,
      resume,
    });
  }

  static async open(o: LiveSessionOptions): Promise<LiveSession> {
    const resume = await o.catalog.getPlaylistState(o.bucket, o.channel.name, o.playlistName);
    const session = new LiveSession(o, resume);
    session.push = await o.catalog.startPush(o.bucket, o.channel.name, o.remoteAddr, session.connectedTime);
    o.log.info({ bucket: o.bucket, channel: o.channel.name, remote: o.remoteAddr, push: session.push.id, playlist: o.playlistName }, 'publish started');
    return session;
  }

  media(type: number, timestamp: number, payload: Buffer): void {
    const now = this.o.now();
    this.firstMediaWall ??= now;
    this.stats.bytesIn += payload.length;
    if (type === TAG_VIDEO) this.videoRate.add(payload.length, now);
    else if (type === TAG_AUDIO) this.audioRate.add(payload.length, now);
    this.enqueue(this.packager.push(type, timestamp, payload));
  }

  end(reason: string): Promise<void> {
    this.ended ??= (async () => {
      this.enqueue(this.packager.finish());
      await this.queue;
      const endTime = this.o.now();
      if (this.push) await this.o.catalog.endPush(this.push.id, endTime);
      this.o.log.info(
        { bucket: this.bucket, channel: this.channelName, push: this.push?.id, reason, ...this.stats, ...this.packager.stats },
        'publish ended',
      );
      this.o.onEnded(this);
    })();
    return this.ended;
  }

  stat(): LiveStat {
    const now = this.o.now();
    const info = this.packager.mediaInfo();
    const stat: LiveStat = { connectedTime: this.connectedTime, remoteAddr: this.remoteAddr };
    if (info.video && this.packager.stats.videoFrames > 0) {
      stat.video = { width: info.video.width, height: info.video.height, frameRate: info.video.frameRate ?? 0, bandwidth: this.videoRate.rate(now), codec: 'H264' };
    }
    if (info.audio && this.packager.stats.audioFrames > 0) {
      stat.audio = { sampleRate: info.audio.sampleRate, bandwidth: this.audioRate.rate(now), codec: 'AAC' };
    }
    return stat;
  }

  private enqueue(events: PackagerEvent[]): void {
    if (events.length === 0) return;
    const jobs: Job[] = events.map((event) => ({ event, resume: event.type === 'playlist' ? this.packager.resumeState() : undefined }));
    for (const job of jobs) this.queue = this.queue.then(() => this.carryOut(job));
  }

  private async carryOut({ event, resume }: Job): Promise<void> {
    const { catalog, store, log } = this.o;
    try {
      switch (event.type) {
        case 'segment': {
          const s = event.segment;
          const key = `${this.channelName}/${s.uri}`;
          try {
            await store.put(key, s.data, 'video/MP2T');
          } catch (err) {
            this.failedUris.add(s.uri);
            this.stats.segmentsFailed++;
            log.error({ err, key }, 'segment write failed; playlists naming it are held back');
            return;
          }
          this.stats.segmentsWritten++;
          await catalog.addSegment({
            bucket: this.bucket,
            channel: this.channelName,
            pushId: this.push!.id,
            sequence: s.sequence,
            key,
            startTime: this.firstMediaWall! + s.startMs,
            durationMs: s.durationMs,
            discontinuity: s.discontinuity,
          });
          return;
        }
        case 'playlist': {
          if (resume!.playlist.entries.some((e) => this.failedUris.has(e.uri))) {
            log.warn({ key: this.playlistKey }, 'playlist not updated: it would name a segment that failed to store');
            return;
          }
          await store.put(this.playlistKey, event.text, 'application/x-mpegURL');
          this.stats.playlistsWritten++;
          await catalog.savePlaylistState(this.bucket, this.channelName, this.o.playlistName, resume!);
          return;
        }
        case 'notice':
          log.info({ channel: this.channelName, code: event.code }, event.message);
          return;
        default:
          return;
      }
    } catch (err) {
      log.error({ err, channel: this.channelName, event: event.type }, 'live session action failed');
    }
  }
}
