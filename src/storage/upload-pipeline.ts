import type { FastifyBaseLogger } from 'fastify';
import { LiveWindow, type LivePlaylistState, type PlaylistEntry } from '../media/playlist.js';
import type { Metrics } from '../metrics.js';
import { contentTypeFor, type ObjectData, type ObjectInfo, type ObjectStore } from './object-store.js';
import type { BackoffPolicy } from './retry.js';
import { putWithRetries, unrefSleep, type RetryingPutOptions, type StoredKind } from './retrying-put.js';
import type { Semaphore } from './semaphore.js';

/** Why a segment never reached storage. */
export type DropReason = 'queue_full' | 'storage_error' | 'shutdown' | 'fenced';

export interface UploadPolicy {
  /** Unwritten segment bytes a channel may hold; past it the oldest are dropped. */
  maxQueuedBytes: number;
  backoff: BackoffPolicy;
  /** How long finish() keeps retrying before giving up on what is left. */
  finishTimeoutMs: number;
}

export const DEFAULT_UPLOAD_POLICY: UploadPolicy = {
  maxQueuedBytes: 32 * 1024 * 1024,
  backoff: { baseMs: 200, maxMs: 5000 },
  finishTimeoutMs: 30_000,
};

export interface SegmentUpload {
  sequence: number;
  uri: string;
  key: string;
  /** Epoch ms of the first frame (for the segment index). */
  startTime: number;
  durationMs: number;
  discontinuity: boolean;
  chunks: Uint8Array[];
  size: number;
  /** performance.now() when the closing keyframe was processed (for the publish latency). */
  closedAt?: number;
  /** fMP4: the init segment it needs, stored before the first segment that names it. */
  init?: InitUpload;
}

export interface InitUpload {
  key: string;
  /** As the playlist names it (EXT-X-MAP). */
  uri: string;
  data: Uint8Array;
}

interface Pending extends SegmentUpload {
  dropped: boolean;
}

export interface ChannelUploaderOptions {
  store: ObjectStore;
  semaphore: Semaphore;
  policy: UploadPolicy;
  log: FastifyBaseLogger;
  metrics: Metrics;
  channel: string;
  playlistKey: string;
  fragCount: number;
  resume?: LivePlaylistState;
  /** After a segment is stored (index it); `stored` is what storage reported. */
  onSegmentStored(segment: SegmentUpload, stored: ObjectInfo): Promise<void>;
  /** A segment will never be stored (the reason is a segmentsDropped metric label). */
  onSegmentDropped?(reason: DropReason): void;
  /** Storage answered that it is full (ENOSPC): someone may free space (retention's emergency sweep). */
  onStorageFull?(): void;
  /** After a playlist is stored (remember where it stands); `text` is what was stored. */
  onPlaylistStored(state: LivePlaylistState, text: string): Promise<void>;
  /** After the queued bytes went down (a segment stored or dropped). */
  onProgress?(): void;
  /** A storage write failed and is retried (stream health counts them). */
  onStorageRetry?(): void;
  /** Segment chunks nobody will read again (recycled by the muxer). */
  releaseChunks?(chunks: readonly Uint8Array[]): void;
  /**
   * Whether this publish may still write to storage (it holds the channel's publish lease).
   * Asked before every write; once false, what is left is dropped and nothing more is written.
   */
  mayWrite?(): boolean;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * Writes one channel's segments in order and, after each, the live playlist, which is
 * rendered from the segments actually stored: a playlist never names a segment that is
 * not in storage. Retryable failures back off and retry; when storage stays slower than the
 * stream the oldest unwritten segments are dropped (memory stays bounded) and the next
 * stored segment starts a discontinuity.
 */
export class ChannelUploader {
  private readonly queue: Pending[] = [];
  private readonly window: LiveWindow;
  private queuedBytes = 0;
  private gap = false;
  private running: Promise<void> | undefined;
  private working = false;
  private deadline = Number.POSITIVE_INFINITY;
  private readonly storedInits = new Set<string>();
  private readonly putOptions: RetryingPutOptions;
  readonly stats = { written: 0, dropped: 0, retries: 0, playlists: 0 };

  constructor(private readonly o: ChannelUploaderOptions) {
    this.window = new LiveWindow(o.fragCount, o.resume);
    this.putOptions = {
      store: o.store,
      semaphore: o.semaphore,
      backoff: o.policy.backoff,
      metrics: o.metrics,
      log: o.log,
      channel: o.channel,
      onStorageFull: o.onStorageFull,
      sleep: o.sleep ?? unrefSleep,
    };
  }

  get pendingBytes(): number {
    return this.queuedBytes;
  }

  add(segment: SegmentUpload): void {
    this.queue.push({ ...segment, dropped: false });
    this.account(segment.size);
    // Over the bound: drop the oldest waiting segments. Never the one being written (the
    // head of the queue while the worker runs) nor the one just added, so memory stays
    // within the bound plus one segment.
    const first = this.running ? 1 : 0;
    for (let i = first; this.queuedBytes > this.o.policy.maxQueuedBytes && i < this.queue.length - 1; i++) {
      if (!this.queue[i]!.dropped) this.drop(this.queue[i]!, 'queue_full');
    }
    if (!this.running) {
      const run = this.work();
      // a run that ended without awaiting (every segment dropped) has already cleared
      // `running`: keeping its settled promise there would make finish() wait forever
      if (this.working) this.running = run;
    }
  }

  /** Writes what is queued and a final playlist with EXT-X-ENDLIST; gives up after finishTimeoutMs. */
  async finish(): Promise<void> {
    this.deadline = Date.now() + this.o.policy.finishTimeoutMs;
    while (this.running) await this.running;
    if (this.window.state.entries.length > 0 && !this.fenced) await this.writePlaylist(true);
  }

  private account(bytes: number): void {
    this.queuedBytes += bytes;
    this.o.metrics.uploadQueueBytes.inc(bytes);
    if (bytes < 0) this.o.onProgress?.();
  }

  private get fenced(): boolean {
    return this.o.mayWrite ? !this.o.mayWrite() : false;
  }

  private drop(s: Pending, reason: DropReason): void {
    if (s.dropped) return;
    s.dropped = true;
    if (s !== this.queue[0] || !this.running) this.o.releaseChunks?.(s.chunks);
    this.account(-s.size);
    this.stats.dropped++;
    this.o.metrics.segmentsDropped.inc({ reason });
    this.gap = true;
    this.o.log.warn({ channel: this.o.channel, key: s.key, reason, queuedBytes: this.queuedBytes }, 'segment dropped before reaching storage');
    this.o.onSegmentDropped?.(reason);
  }

  private async work(): Promise<void> {
    this.working = true;
    try {
      while (this.queue.length > 0) {
        const s = this.queue[0]!;
        if (!s.dropped && this.fenced) this.drop(s, 'fenced');
        if (!s.dropped && s.init && !(await this.storeInit(s.init))) this.drop(s, this.giveUpReason());
        if (!s.dropped) {
          // segments dropped from now on come after this one: the discontinuity goes after it
          const entry: PlaylistEntry = { sequence: s.sequence, uri: s.uri, duration: s.durationMs / 1000, discontinuity: s.discontinuity || this.gap };
          if (s.init) entry.map = s.init.uri;
          const droppedBefore = this.stats.dropped;
          const published = await this.publishTogether(s, entry, droppedBefore);
          if (published === 'not-stored') {
            const stored = await this.write('segment', s.key, s.chunks, contentTypeFor(s.key), () => false);
            if (stored) {
              await this.segmentStored(s, entry, droppedBefore, stored);
              if (await this.writePlaylist(false)) this.observePublished(s);
            } else {
              this.drop(s, this.giveUpReason());
            }
          }
          this.o.releaseChunks?.(s.chunks); // written (or given up): nothing reads them any more
        }
        this.queue.shift();
      }
    } finally {
      this.working = false;
      this.running = undefined;
    }
  }

  private giveUpReason(): DropReason {
    return this.fenced ? 'fenced' : Date.now() > this.deadline ? 'shutdown' : 'storage_error';
  }

  /** The init segment a segment needs, unless already stored by this publish. */
  private async storeInit(init: InitUpload): Promise<boolean> {
    if (this.storedInits.has(init.key)) return true;
    if (!(await this.write('init', init.key, init.data, contentTypeFor(init.key), () => false))) return false;
    this.storedInits.add(init.key);
    return true;
  }

  /**
   * Where the store can stage objects: writes the segment and the playlist that names it at
   * the same time, then publishes the segment and after it the playlist (three storage round
   * trips instead of four). 'not-stored' when the segment did not make it this way (nothing
   * was published; the caller writes it the usual way, with retries).
   */
  private async publishTogether(s: Pending, entry: PlaylistEntry, droppedBefore: number): Promise<'published' | 'not-stored'> {
    const stage = this.o.store.stage?.bind(this.o.store);
    if (!stage) return 'not-stored';
    if (this.fenced) return 'not-stored'; // the plain path refuses it
    const next = new LiveWindow(this.window.size, this.window.state);
    next.push(entry);
    const text = next.render(false);
    const started = process.hrtime.bigint();
    const seconds = () => Number(process.hrtime.bigint() - started) / 1e9;
    const [segment, playlist] = await this.o.semaphore.run(() =>
      Promise.allSettled([stage(s.key, s.chunks, contentTypeFor(s.key)), stage(this.o.playlistKey, text, 'application/x-mpegURL')]),
    );
    const staged = playlist.status === 'fulfilled' ? playlist.value : undefined;
    let stored: ObjectInfo;
    try {
      if (segment.status === 'rejected') throw segment.reason;
      stored = await segment.value.commit();
    } catch {
      this.o.metrics.storageLatency.observe({ kind: 'segment', outcome: 'error' }, seconds());
      await staged?.discard();
      return 'not-stored';
    }
    this.o.metrics.storageLatency.observe({ kind: 'segment', outcome: 'ok' }, seconds());
    await this.segmentStored(s, entry, droppedBefore, stored);
    // segments dropped meanwhile come after this one: the staged playlist is still current
    if (this.fenced) {
      await staged?.discard();
      return 'published';
    }
    const committed = await staged?.commit().then(
      () => true,
      () => false,
    );
    if (committed) {
      this.o.metrics.storageLatency.observe({ kind: 'playlist', outcome: 'ok' }, seconds());
      await this.playlistStored(text);
      this.observePublished(s);
    } else if (await this.writePlaylist(false)) {
      // the usual way, with retries
      this.observePublished(s);
    }
    return 'published';
  }

  private async segmentStored(s: Pending, entry: PlaylistEntry, droppedBefore: number, stored: ObjectInfo): Promise<void> {
    this.account(-s.size);
    await this.o.onSegmentStored(s, stored);
    this.stats.written++;
    this.o.metrics.segmentsWritten.inc();
    this.window.push(entry);
    this.gap = this.stats.dropped !== droppedBefore;
  }

  private observePublished(s: Pending): void {
    if (s.closedAt !== undefined) this.o.metrics.publishLatency.observe((performance.now() - s.closedAt) / 1000);
  }

  private async writePlaylist(ended: boolean): Promise<boolean> {
    const text = this.window.render(ended);
    // a newer segment makes this playlist stale: stop retrying it then
    const stale = () => !ended && this.queue.length > 1 && this.queue.slice(1).some((s) => !s.dropped);
    if (!(await this.write('playlist', this.o.playlistKey, text, 'application/x-mpegURL', stale))) return false;
    await this.playlistStored(text);
    return true;
  }

  private async playlistStored(text: string): Promise<void> {
    this.stats.playlists++;
    const s = this.window.state;
    await this.o.onPlaylistStored({ ...s, entries: [...s.entries] }, text);
  }

  /** One object with retries; undefined when it was given up (fenced, non-retryable, abandoned, past the deadline). */
  private async write(kind: StoredKind, key: string, data: ObjectData, contentType: string, abandoned: () => boolean): Promise<ObjectInfo | undefined> {
    if (this.fenced) {
      this.o.log.error({ channel: this.o.channel, key }, `${kind} write refused: this node no longer holds the channel's publish lease`);
      return undefined;
    }
    const giveUp = () => this.fenced || abandoned() || Date.now() > this.deadline;
    return putWithRetries(this.putOptions, kind, key, data, contentType, giveUp, () => {
      this.stats.retries++;
      this.o.onStorageRetry?.();
    });
  }
}
