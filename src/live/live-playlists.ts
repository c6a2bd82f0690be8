import { md5ETag } from '../storage/object-store.js';

export interface LivePlaylist {
  body: Buffer;
  /** The same ETag storage gives the object: its MD5, quoted, upper case. */
  etag: string;
  lastModified: number;
  /** Seconds, from #EXT-X-TARGETDURATION. */
  targetDuration: number;
}

/**
 * The live playlists this process is writing, as last stored. Viewers poll a live playlist
 * every target duration: serving it from here spares a storage round trip per poll. An entry
 * exists only while this process's publish holds the channel (its lease fences everybody
 * else's writes), and is withdrawn when the publish ends.
 */
export class LivePlaylists {
  private readonly byKey = new Map<string, LivePlaylist>();

  /** After the playlist `text` was stored at `key` of `bucket`. */
  publish(bucket: string, key: string, text: string, now = Date.now()): void {
    const body = Buffer.from(text);
    const target = /^#EXT-X-TARGETDURATION:(\d+)/m.exec(text);
    this.byKey.set(slot(bucket, key), {
      body,
      etag: md5ETag(body),
      lastModified: now,
      targetDuration: target ? Number(target[1]) : 0,
    });
  }

  /** The publish ended, or the object was changed some other way: storage answers again. */
  withdraw(bucket: string, key: string): void {
    this.byKey.delete(slot(bucket, key));
  }

  withdrawBucket(bucket: string): void {
    for (const k of this.byKey.keys()) if (k.startsWith(`${bucket}\u0000`)) this.byKey.delete(k);
  }

  get(bucket: string, key: string): LivePlaylist | undefined {
    return this.byKey.get(slot(bucket, key));
  }
}

function slot(bucket: string, key: string): string {
  return `${bucket}\u0000${key}`;
}
