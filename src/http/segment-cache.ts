import type { ObjectInfo } from '../storage/object-store.js';

export interface CachedSegment {
  info: ObjectInfo;
  body: Buffer;
}

export interface SegmentCacheOptions {
  /** Bytes held at most, all segments together; the least recently read go first. */
  maxBytes: number;
  /** A segment is read from storage again after this long (live segments are hot for seconds). */
  ttlMs: number;
  /** Larger objects are not cached (streamed from storage each time); 16 MiB by default. */
  maxObjectBytes?: number;
  now?: () => number;
}

interface Entry extends CachedSegment {
  cachedAt: number;
}

/**
 * Recently read segments, in memory. Every viewer of a live channel fetches the same newest
 * segment within a second or two: it is read from storage once and answered from here to the
 * rest, and concurrent first reads share one storage read. Segments are immutable once
 * written; an API write or delete of the key drops it at once, and the TTL bounds what a
 * write by another node could leave stale.
 */
export class SegmentCache {
  private readonly entries = new Map<string, Entry>();
  private readonly loading = new Map<string, Promise<CachedSegment | undefined>>();
  private bytes = 0;
  private readonly now: () => number;
  readonly maxObjectBytes: number;

  constructor(private readonly o: SegmentCacheOptions) {
    this.now = o.now ?? Date.now;
    this.maxObjectBytes = o.maxObjectBytes ?? 16 * 1024 * 1024;
  }

  /**
   * The segment from memory, or loaded by `load` (once, whoever else asks meanwhile). `load`
   * answers undefined for an object that is not to be cached (missing, too large).
   */
  async get(bucket: string, key: string, load: () => Promise<CachedSegment | undefined>): Promise<CachedSegment | undefined> {
    const id = slot(bucket, key);
    const hit = this.entries.get(id);
    if (hit) {
      this.entries.delete(id);
      if (this.now() - hit.cachedAt <= this.o.ttlMs) {
        this.entries.set(id, hit); // most recently read last
        return hit;
      }
      this.bytes -= hit.body.length;
    }
    let pending = this.loading.get(id);
    if (!pending) {
      pending = load().then(
        (got) => {
          this.loading.delete(id);
          if (got && got.body.length <= this.maxObjectBytes) this.add(id, got);
          return got;
        },
        (err: unknown) => {
          this.loading.delete(id);
          throw err;
        },
      );
      this.loading.set(id, pending);
    }
    return pending;
  }

  forget(bucket: string, key: string): void {
    const id = slot(bucket, key);
    const e = this.entries.get(id);
    if (e) {
      this.entries.delete(id);
      this.bytes -= e.body.length;
    }
  }

  forgetBucket(bucket: string): void {
    for (const id of [...this.entries.keys()]) if (id.startsWith(`${bucket}\u0000`)) this.forget(bucket, id.slice(bucket.length + 1));
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.entries.size, bytes: this.bytes };
  }

  private add(id: string, got: CachedSegment): void {
    if (got.body.length > this.o.maxBytes) return;
    const old = this.entries.get(id);
    if (old) this.bytes -= old.body.length;
    this.entries.set(id, { ...got, cachedAt: this.now() });
    this.bytes += got.body.length;
    for (const [oldest, e] of this.entries) {
      if (this.bytes <= this.o.maxBytes) break;
      this.entries.delete(oldest);
      this.bytes -= e.body.length;
    }
  }
}

function slot(bucket: string, key: string): string {
  return `${bucket}\u0000${key}`;
}
