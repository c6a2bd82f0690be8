import { LiveWindow, type LivePlaylistState, type PlaylistEntry } from '../media/playlist.js';
import { md5ETag } from '../storage/object-store.js';
import { renderLowLatencyPlaylist, SEGMENTS_WITH_PARTS, type OpenSegment, type PartEntry } from '../media/ll-playlist.js';

export interface LowLatencyOptions {
  /** Seconds. */
  partTarget: number;
  fragCount: number;
  resume?: LivePlaylistState;
  /** URI of part `index` of segment `sequence`. */
  partUri: (sequence: number, index: number) => string;
}

/** What a blocking reload may ask for (RFC 8216bis 6.2.5.2). */
export type BlockingAnswer = 'ready' | 'timeout' | 'too-far' | 'ended';

interface Waiter {
  ready: () => boolean;
  resolve: (answer: BlockingAnswer) => void;
  timer: NodeJS.Timeout;
}

/**
 * One LL-HLS channel as its publishing process sees it: the playlist with partial segments,
 * and the newest parts, segments and init segments in memory, so that a player at the live
 * edge is answered without waiting for storage. Blocking requests (a playlist reload for a
 * part not yet made, a preload-hinted part) wait here until the packager delivers it.
 */
export class LowLatencyStream {
  private readonly window: LiveWindow;
  private readonly partsOf = new Map<number, PartEntry[]>();
  /** Epoch ms of each listed segment's first frame. */
  private readonly startTimes = new Map<number, number>();
  private open: OpenSegment | undefined;
  /** By URI: a part or init segment, or a segment as its fragments (the parts' own buffers, joined when asked for). */
  private readonly objects = new Map<string, Uint8Array | readonly Uint8Array[]>();
  /** Segment sequence → the URIs kept in memory for it (its parts and itself). */
  private readonly objectsOf = new Map<number, string[]>();
  private readonly waiters = new Set<Waiter>();
  private ended = false;
  /** The playlist as last rendered, its bytes and ETag: every waiting viewer gets the same. */
  private rendered: { body: Buffer; etag: string } | undefined;

  constructor(private readonly o: LowLatencyOptions) {
    this.window = new LiveWindow(o.fragCount, o.resume);
  }

  get partTarget(): number {
    return this.o.partTarget;
  }

  /** Seconds, for a blocking request's time limit. */
  get targetDuration(): number {
    return Math.max(1, this.window.state.targetDuration);
  }

  addInit(uri: string, data: Uint8Array): void {
    this.objects.set(uri, data);
    this.changed();
  }

  addPart(part: { sequence: number; index: number; durationMs: number; independent: boolean; data: Uint8Array; discontinuity: boolean; map?: string }): void {
    if (this.open?.sequence !== part.sequence) this.open = { sequence: part.sequence, discontinuity: part.discontinuity, map: part.map, parts: [] };
    const uri = this.o.partUri(part.sequence, part.index);
    this.open.parts.push({ uri, duration: part.durationMs / 1000, independent: part.independent });
    this.keep(part.sequence, uri, part.data);
    this.changed();
  }

  /**
   * The segment closed (after its last part). `chunks`: its bytes (for fMP4, the very buffers
   * of its parts, so that keeping both costs nothing more); `startTime`: epoch ms of its first frame.
   */
  addSegment(entry: PlaylistEntry, chunks: readonly Uint8Array[], startTime: number): void {
    this.startTimes.set(entry.sequence, startTime);
    if (this.open?.sequence === entry.sequence) this.partsOf.set(entry.sequence, this.open.parts);
    this.open = undefined;
    this.keep(entry.sequence, entry.uri, chunks);
    for (const gone of this.window.push(entry)) {
      this.forget(gone.sequence);
      this.startTimes.delete(gone.sequence);
    }
    // parts are listed for the last few segments only, and kept a little longer for players still fetching them
    const entries = this.window.state.entries;
    const oldestListed = entries[Math.max(0, entries.length - SEGMENTS_WITH_PARTS - 1)]?.sequence ?? 0;
    for (const seq of [...this.objectsOf.keys()]) if (seq < oldestListed) this.forget(seq);
    this.changed();
  }

  end(): void {
    this.ended = true;
    this.changed();
  }

  /** Withdrawn: every waiter is answered; the caller falls back to storage. */
  close(): void {
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.resolve('ended');
    }
    this.waiters.clear();
  }

  playlistBody(): { body: Buffer; etag: string } {
    if (this.rendered) return this.rendered;
    const body = Buffer.from(renderLowLatencyPlaylist({
      window: this.window.state,
      partsOf: this.partsOf,
      open: this.open,
      partTarget: this.o.partTarget,
      nextPartUri: this.nextPartUri(),
      ended: this.ended,
      startTimes: this.startTimes,
    }));
    this.rendered = { body, etag: md5ETag(body) };
    return this.rendered;
  }

  object(uri: string): Uint8Array | undefined {
    const o = this.objects.get(uri);
    return o === undefined || o instanceof Uint8Array ? o : Buffer.concat(o);
  }

  /**
   * Whether the playlist holds segment `msn` complete, or its part `part`. A part past the last
   * of a complete segment is the next segment's first (what a player asks for at a boundary).
   */
  has(msn: number, part?: number): boolean {
    if (this.ended) return true;
    const openSeq = this.open?.sequence ?? this.nextSequence();
    if (msn < openSeq) {
      const count = this.partsOf.get(msn)?.length;
      return part === undefined || count === undefined || part < count || this.has(msn + 1, 0);
    }
    if (msn > openSeq || part === undefined) return false;
    return (this.open?.parts.length ?? 0) > part;
  }

  /** The newest media sequence number the playlist names (complete or with parts). */
  lastSequence(): number {
    return this.open?.sequence ?? this.nextSequence() - 1;
  }

  /** Waits until `msn`/`part` is in the playlist (a blocking playlist reload). */
  waitForPlaylist(msn: number, part: number | undefined, timeoutMs: number): Promise<BlockingAnswer> {
    if (msn > this.lastSequence() + 2) return Promise.resolve('too-far');
    return this.waitUntil(() => this.has(msn, part), timeoutMs);
  }

  /** Waits until the object `uri` is here (a preload-hinted part); undefined when it never came. */
  async waitForObject(uri: string, timeoutMs: number): Promise<Uint8Array | undefined> {
    const found = this.object(uri);
    if (found || uri !== this.nextPartUri()) return found;
    await this.waitUntil(() => this.objects.has(uri) || uri !== this.nextPartUri(), timeoutMs);
    return this.object(uri);
  }

  private waitUntil(ready: () => boolean, timeoutMs: number): Promise<BlockingAnswer> {
    if (ready()) return Promise.resolve('ready');
    return new Promise((resolve) => {
      const waiter: Waiter = {
        ready,
        resolve,
        timer: setTimeout(() => {
          this.waiters.delete(waiter);
          resolve('timeout');
        }, timeoutMs),
      };
      this.waiters.add(waiter);
    });
  }

  private nextSequence(): number {
    const entries = this.window.state.entries;
    return entries.length > 0 ? entries[entries.length - 1]!.sequence + 1 : 0;
  }

  private nextPartUri(): string | undefined {
    if (this.ended) return undefined;
    if (this.open) return this.o.partUri(this.open.sequence, this.open.parts.length);
    return this.window.state.entries.length > 0 ? this.o.partUri(this.nextSequence(), 0) : undefined;
  }

  private keep(sequence: number, uri: string, data: Uint8Array | readonly Uint8Array[]): void {
    this.objects.set(uri, data);
    const list = this.objectsOf.get(sequence);
    if (list) list.push(uri);
    else this.objectsOf.set(sequence, [uri]);
  }

  private forget(sequence: number): void {
    for (const uri of this.objectsOf.get(sequence) ?? []) this.objects.delete(uri);
    this.objectsOf.delete(sequence);
    this.partsOf.delete(sequence);
  }

  private changed(): void {
    this.rendered = undefined;
    for (const w of this.waiters) {
      if (!w.ready()) continue;
      clearTimeout(w.timer);
      this.waiters.delete(w);
      w.resolve('ready');
    }
  }
}

/** The LL-HLS channels this process is publishing, by bucket and playlist key. */
export class LowLatencyStreams {
  private readonly byPlaylist = new Map<string, LowLatencyStream>();
  /** By bucket and the channel's folder: one publish per channel. */
  private readonly byFolder = new Map<string, LowLatencyStream>();

  add(bucket: string, playlistKey: string, stream: LowLatencyStream): void {
    this.byPlaylist.set(`${bucket}\u0000${playlistKey}`, stream);
    this.byFolder.set(`${bucket}\u0000${folderOf(playlistKey)}`, stream);
  }

  remove(bucket: string, playlistKey: string, stream: LowLatencyStream): void {
    for (const [map, slot] of [[this.byPlaylist, `${bucket}\u0000${playlistKey}`], [this.byFolder, `${bucket}\u0000${folderOf(playlistKey)}`]] as const) {
      if (map.get(slot) === stream) map.delete(slot);
    }
    stream.close();
  }

  /** The stream whose playlist is `key`. */
  playlist(bucket: string, key: string): LowLatencyStream | undefined {
    return this.byPlaylist.get(`${bucket}\u0000${key}`);
  }

  /** The stream that may hold object `key` (a part, a recent segment, an init segment), and its URI there. */
  objectOwner(bucket: string, key: string): { stream: LowLatencyStream; uri: string } | undefined {
    if (this.byFolder.size === 0) return undefined;
    const stream = this.byFolder.get(`${bucket}\u0000${folderOf(key)}`);
    return stream && { stream, uri: key.slice(key.lastIndexOf('/') + 1) };
  }
}

const folderOf = (key: string) => key.slice(0, key.lastIndexOf('/') + 1);
