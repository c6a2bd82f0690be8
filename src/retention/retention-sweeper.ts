import type { FastifyBaseLogger } from 'fastify';
import type { Catalog, PlaylistResume, SegmentRecord, SnapshotRecord } from '../catalog/catalog.js';
import type { RetentionConfig } from '../config.js';
import type { Metrics } from '../metrics.js';
import { vodPlaylistText } from '../oss/vod-playlist.js';
import type { ObjectStore } from '../storage/object-store.js';

export interface RetentionSweeperOptions {
  bucket: string;
  config: RetentionConfig;
  store: ObjectStore;
  catalog: Catalog;
  log: FastifyBaseLogger;
  metrics: Metrics;
  now?: () => number;
}

export interface SweepResult {
  /** Segments deleted because they were older than maxAge, or to free space. */
  age: number;
  space: number;
  vodRewritten: number;
  vodDeleted: number;
  /** fMP4 init segments deleted once no segment left named them. */
  initSegments: number;
  /** Snapshot JPEGs stored in this bucket, older than their channel's maxAge. */
  snapshots: number;
}

const BATCH = 500;

/** What the stored live playlists protect, read once per batch of deletions. */
interface LivePlaylistsNow {
  named: ReadonlySet<string>;
  orphans: { channel: string; name: string; state: PlaylistResume }[];
}

/** Pages of BATCH rows, each read after the last row of the one before, until a short one. */
async function* pages<T>(read: (after: T | undefined) => Promise<T[]>): AsyncGenerator<T[]> {
  let after: T | undefined;
  for (;;) {
    const page = await read(after);
    if (page.length === 0) return;
    yield page;
    if (page.length < BATCH) return;
    after = page.at(-1);
  }
}

/** A channel-name pattern: * any run of characters, ? one; the rest literal. */
export function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

/**
 * Deletes a bucket's old segments and snapshots: past their channel's `maxAge` (a `channels`
 * override, else the bucket's), and (on a filesystem) the oldest segments while less than
 * `minFreeBytes` is free. Never one a live playlist names. VOD playlists that name a
 * segment about to go are rewritten without it (or deleted when nothing is left) before the
 * segment is deleted, so no stored playlist names a missing object; the index forgets a
 * segment after its object is gone, so a crash in between leaves it for the next sweep. An fMP4
 * init segment goes once the last indexed segment naming it has gone (a crash just before
 * leaves that one, about 1 KB, behind).
 */
export class RetentionSweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<SweepResult> | undefined;
  private readonly now: () => number;

  private readonly channelRules: { match: RegExp; maxAge: number | 'forever' }[];

  constructor(private readonly o: RetentionSweeperOptions) {
    this.now = o.now ?? Date.now;
    this.channelRules = (o.config.channels ?? []).map((c) => ({ match: globToRegExp(c.match), maxAge: c.maxAge }));
  }

  start(): void {
    this.timer = setInterval(() => void this.sweep().catch((err) => this.o.log.error({ err, bucket: this.o.bucket }, 'retention sweep failed; will retry')), this.o.config.sweepInterval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.running?.catch(() => {});
  }

  /** One pass (a pass already running is awaited instead of started twice). */
  sweep(): Promise<SweepResult> {
    this.running ??= this.pass().finally(() => (this.running = undefined));
    return this.running;
  }

  private async pass(): Promise<SweepResult> {
    const result: SweepResult = { age: 0, space: 0, vodRewritten: 0, vodDeleted: 0, initSegments: 0, snapshots: 0 };
    const { minFreeBytes } = this.o.config;
    const ages = [this.o.config.maxAge, ...(this.o.config.channels ?? []).map((c) => c.maxAge)].filter((a): a is number => typeof a === 'number');
    if (ages.length > 0) {
      const now = this.now();
      // pages of everything old enough for the shortest maxAge; each segment judged by its channel's
      const cutoff = now - Math.min(...ages);
      for await (const page of pages<SegmentRecord>((after) => this.o.catalog.oldestSegments(this.o.bucket, cutoff, BATCH, after))) {
        await this.deleteBatch(page.filter((s) => this.tooOld(s.channel, s.startTime, now)), 'age', result);
      }
      for await (const page of pages<SnapshotRecord>((after) => this.o.catalog.oldestSnapshots(this.o.bucket, cutoff, BATCH, after))) {
        await this.deleteSnapshots(page.filter((s) => this.tooOld(s.channel, s.time, now)), result);
      }
    }
    const free = this.o.store.freeBytes?.bind(this.o.store);
    if (minFreeBytes !== undefined && free) {
      for (let short = minFreeBytes - (await free()); short > 0; short = minFreeBytes - (await free())) {
        const playlists = await this.livePlaylists();
        const n = await this.deleteBatch(await this.enough(short, playlists.named), 'space', result, playlists);
        if (n === 0) {
          this.o.log.error({ bucket: this.o.bucket, minFreeBytes }, 'less space free than retention.minFreeBytes, and no segment left that a live playlist does not name');
          break;
        }
      }
    }
    if (result.age + result.space + result.snapshots > 0) this.o.log.info({ bucket: this.o.bucket, ...result }, 'retention deleted old segments and snapshots');
    return result;
  }

  private async deleteObjects(keys: readonly string[]): Promise<void> {
    if (this.o.store.deleteMany) await this.o.store.deleteMany(keys);
    else for (const key of keys) await this.o.store.delete(key);
  }

  /** Past its channel's maxAge (the first `channels` entry that matches, else the bucket's). */
  private tooOld(channel: string, time: number, now: number): boolean {
    const override = this.channelRules.find((r) => r.match.test(channel));
    const maxAge = override ? override.maxAge : this.o.config.maxAge;
    return typeof maxAge === 'number' && time < now - maxAge;
  }

  /** Snapshots: objects first, then the index (a crash in between leaves them for the next sweep). */
  private async deleteSnapshots(doomed: readonly SnapshotRecord[], result: SweepResult): Promise<void> {
    if (doomed.length === 0) return;
    const keys = doomed.map((s) => s.key);
    await this.deleteObjects(keys);
    await this.o.catalog.deleteSnapshots(this.o.bucket, keys);
    result.snapshots += keys.length;
    this.o.metrics.retentionDeleted.inc({ reason: 'snapshot' }, keys.length);
  }

  /** The oldest segments no live playlist names whose sizes add up to `bytes` (or all there are). */
  private async enough(bytes: number, named: ReadonlySet<string>): Promise<SegmentRecord[]> {
    const picked: SegmentRecord[] = [];
    let total = 0;
    for (const s of await this.o.catalog.oldestSegments(this.o.bucket, Number.MAX_SAFE_INTEGER, BATCH)) {
      if (named.has(s.key)) continue;
      picked.push(s);
      total += (await this.o.store.head(s.key))?.size ?? 0;
      if (total >= bytes) break;
    }
    return picked;
  }

  /** Deletes the batch's segments that no live playlist names; how many. */
  private async deleteBatch(candidates: SegmentRecord[], reason: 'age' | 'space', result: SweepResult, playlists?: LivePlaylistsNow): Promise<number> {
    if (candidates.length === 0) return 0;
    const { named, orphans } = playlists ?? (await this.livePlaylists());
    const doomed = candidates.filter((s) => !named.has(s.key));
    if (doomed.length === 0) return 0;
    const gone = new Set(doomed.map((s) => s.key));
    await this.rewriteVodPlaylists(gone, result);
    await this.dropOrphanPlaylists(orphans, gone);
    const keys = doomed.map((s) => s.key);
    await this.deleteObjects(keys);
    await this.o.catalog.deleteSegments(doomed);
    result[reason] += doomed.length;
    this.o.metrics.retentionDeleted.inc({ reason }, doomed.length);
    result.initSegments += await this.deleteUnnamedInits(doomed, named);
    return doomed.length;
  }

  /**
   * The fMP4 init segments the deleted segments named that no indexed segment and no live
   * playlist names any more (VOD playlists only name indexed segments). A push's init segment
   * is stored before its first segment, but under a key with that segment's sequence number,
   * which no older segment has: it is never among these.
   */
  private async deleteUnnamedInits(deleted: readonly SegmentRecord[], named: ReadonlySet<string>): Promise<number> {
    const candidates = [...new Set(deleted.flatMap((s) => (s.initKey !== undefined && !named.has(s.initKey) ? [s.initKey] : [])))];
    if (candidates.length === 0) return 0;
    const inUse = await this.o.catalog.initKeysInUse(this.o.bucket, candidates);
    const unnamed = candidates.filter((k) => !inUse.has(k));
    if (unnamed.length === 0) return 0;
    await this.deleteObjects(unnamed);
    this.o.metrics.retentionDeleted.inc({ reason: 'init_segment' }, unnamed.length);
    return unnamed.length;
  }

  /**
   * The live playlists as they stand: the keys of the segments (and init segments) those of
   * existing channels name (protected), and the last playlists of deleted channels, which
   * protect nothing (OSS keeps a deleted channel's objects, and retention removes them).
   */
  private async livePlaylists(): Promise<LivePlaylistsNow> {
    const named = new Set<string>();
    const orphans: LivePlaylistsNow['orphans'] = [];
    const exists = new Map<string, boolean>();
    for (const p of await this.o.catalog.playlistStates(this.o.bucket)) {
      if (!exists.has(p.channel)) exists.set(p.channel, (await this.o.catalog.getChannel(this.o.bucket, p.channel)) !== undefined);
      if (!exists.get(p.channel)) orphans.push(p);
      else
        for (const e of p.state.playlist.entries) {
          named.add(`${p.channel}/${e.uri}`);
          if (e.map !== undefined) named.add(`${p.channel}/${e.map}`);
        }
    }
    return { named, orphans };
  }

  /** A deleted channel's last live playlist naming a doomed segment goes first (object and state). */
  private async dropOrphanPlaylists(orphans: LivePlaylistsNow['orphans'], gone: ReadonlySet<string>): Promise<void> {
    for (const { channel, name, state } of orphans) {
      if (!state.playlist.entries.some((e) => gone.has(`${channel}/${e.uri}`))) continue;
      if (await this.o.catalog.getChannel(this.o.bucket, channel)) continue; // re-created meanwhile: its playlist lives on
      await this.o.store.delete(`${channel}/${name}`);
      await this.o.catalog.deletePlaylistState(this.o.bucket, channel, name);
      this.o.metrics.retentionDeleted.inc({ reason: 'deleted_channel_playlist' });
      this.o.log.info({ bucket: this.o.bucket, channel, playlist: name }, "retention deleted a deleted channel's last live playlist");
    }
  }

  /** VOD playlists naming a doomed segment, written again from the index without the doomed ones. */
  private async rewriteVodPlaylists(gone: ReadonlySet<string>, result: SweepResult): Promise<void> {
    for (const vod of await this.o.catalog.vodPlaylists(this.o.bucket)) {
      const named = await this.o.catalog.segmentsBetween(this.o.bucket, vod.channel, vod.fromMs, vod.toMs);
      if (!named.some((s) => gone.has(s.key))) continue;
      const left = named.filter((s) => !gone.has(s.key));
      if (left.length > 0) {
        try {
          await this.o.store.put(vod.key, vodPlaylistText(left, vod.channel), 'application/x-mpegURL');
          result.vodRewritten++;
          continue;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
          // a disk too full to take the shorter playlist: it goes, rather than name what is deleted
          this.o.log.error({ bucket: this.o.bucket, key: vod.key }, 'no space to rewrite a VOD playlist without its oldest segments; deleted it');
        }
      }
      await this.o.store.delete(vod.key);
      await this.o.catalog.deleteVodPlaylist(this.o.bucket, vod.key);
      result.vodDeleted++;
      this.o.metrics.retentionDeleted.inc({ reason: left.length === 0 ? 'vod_emptied' : 'vod_no_space' });
    }
  }
}
