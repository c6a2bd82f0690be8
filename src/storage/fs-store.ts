import { createHash } from 'node:crypto';
import { close as fsClose, createReadStream, fdatasync as fsFdatasync, rename as fsRename, writev as fsWritev } from 'node:fs';
import { mkdir, readdir, rm, stat, statfs, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join, resolve, sep } from 'node:path';
import {
  contentTypeFor,
  dataLength,
  InvalidObjectKeyError,
  joinData,
  md5ETag,
  listSorted,
  type ListQuery,
  type ListResult,
  type ObjectData,
  type ObjectInfo,
  type ObjectStore,
  type StagedObject,
} from './object-store.js';
import { discardTmpFile, TmpFilePool } from './tmp-files.js';

/** Writes every byte of `chunks` at the file's position (one writev, repeated if short). */
function writeAll(fd: number, chunks: readonly Uint8Array[]): Promise<void> {
  const total = dataLength(chunks);
  return new Promise((resolve, reject) => {
    const writeRest = (done: number) => {
      if (done >= total) return resolve();
      let skip = done;
      const rest: Uint8Array[] = [];
      for (const c of chunks) {
        if (skip >= c.length) skip -= c.length;
        else {
          rest.push(skip > 0 ? c.subarray(skip) : c);
          skip = 0;
        }
      }
      fsWritev(fd, rest, (err, written) => (err ? reject(err) : writeRest(done + written)));
    };
    writeRest(0);
  });
}

function renameFile(from: string, to: string): Promise<void> {
  return new Promise((resolve, reject) => fsRename(from, to, (err) => (err ? reject(err) : resolve())));
}

function asChunks(data: ObjectData): readonly Uint8Array[] {
  if (typeof data === 'string') return [Buffer.from(data)];
  return Array.isArray(data) ? data : [data as Uint8Array];
}

/** Directory under the root for in-flight writes (never a valid key prefix). */
const TMP_DIR = '.lc-tmp';

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
/** Objects from this size up are flushed to disk after they are written (segments, not playlists). */
const FLUSH_MIN_BYTES = 64 * 1024;
/** Background flushes at once; past it files are closed unflushed (they keep the thread pool free). */
const MAX_BACKGROUND_FLUSHES = 4;
/** Temp files kept open for the next writes (a few per bucket). */
const SPARE_TMP_FILES = 8;

/**
 * Objects as files under one root directory. Writes go to a temp file and are renamed
 * into place, so a reader (or a crash) never sees a partial object. ETags are the
 * content MD5, remembered from writes and computed on first read otherwise.
 */
export class FsObjectStore implements ObjectStore {
  readonly root: string;
  private readonly etags = new Map<string, { size: number; mtimeMs: number; etag: string }>();
  private readonly dirs = new Set<string>();
  private readonly tmpFiles: TmpFilePool;
  private readonly flushing = new Set<Promise<void>>();

  constructor(root: string) {
    this.root = resolve(root);
    // one temp folder per process: several gateways may share a root (a cluster, workers)
    const tmpDir = join(this.root, TMP_DIR, `${hostname()}-${process.pid}`);
    this.tmpFiles = new TmpFilePool(async () => {
      await this.ensureDir(tmpDir);
      return tmpDir;
    }, SPARE_TMP_FILES);
  }

  /** The file path of a key; refuses keys that could escape the root. */
  pathOf(key: string): string {
    const segments = key.split('/');
    if (
      key.length === 0 ||
      segments.some((s) => s === '' || s === '.' || s === '..' || Buffer.byteLength(s) > 255) ||
      segments[0] === TMP_DIR ||
      // eslint-disable-next-line no-control-regex
      /[\u0000-\u001f\u007f\\]/.test(key)
    ) {
      throw new InvalidObjectKeyError(`invalid object key "${key}"`);
    }
    const path = join(this.root, ...segments);
    if (!path.startsWith(this.root + sep)) throw new InvalidObjectKeyError(`invalid object key "${key}"`);
    return path;
  }

  async put(key: string, data: ObjectData, contentType?: string): Promise<ObjectInfo> {
    return (await this.stage(key, data, contentType)).commit();
  }

  /**
   * Writes into a temp file opened ahead (the callback API: far less main-thread work than
   * fs/promises at hundreds of channels); commit() renames it into place before closing it.
   */
  async stage(key: string, data: ObjectData, contentType?: string): Promise<StagedObject> {
    const path = this.pathOf(key);
    try {
      await this.ensureDir(dirname(path));
    } catch (err) {
      throw this.writeError(err, key);
    }
    const size = dataLength(data);
    const tmp = await this.tmpFiles.take();
    try {
      await writeAll(tmp.fd, asChunks(data));
    } catch (err) {
      await discardTmpFile(tmp);
      throw this.writeError(err, key);
    }
    let settled = false;
    return {
      commit: async () => {
        if (settled) throw new Error(`staged object "${key}" already committed or discarded`);
        settled = true;
        try {
          await renameFile(tmp.path, path);
        } catch (err) {
          await discardTmpFile(tmp);
          throw this.writeError(err, key);
        }
        this.release(tmp.fd, size);
        // The MD5 ETag is computed when somebody asks for it (most segments are only written here).
        return {
          key,
          size,
          get etag(): string {
            return md5ETag(joinData(data));
          },
          contentType: contentType ?? contentTypeFor(key),
          lastModified: Date.now(),
        };
      },
      discard: async () => {
        if (settled) return;
        settled = true;
        await discardTmpFile(tmp);
      },
    };
  }

  private writeError(err: unknown, key: string): unknown {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') this.dirs.clear(); // a folder vanished under us
    if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST') {
      // OSS names are flat ("a" and "a/b" may both exist); files and folders cannot
      return new InvalidObjectKeyError(`object key "${key}" conflicts with an existing object's path`);
    }
    return err;
  }

  /** mkdir -p, once per folder. */
  private async ensureDir(dir: string): Promise<void> {
    if (this.dirs.has(dir)) return;
    await mkdir(dir, { recursive: true });
    if (this.dirs.size > 10_000) this.dirs.clear();
    this.dirs.add(dir);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const path = this.pathOf(key);
    let st;
    try {
      st = await stat(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ENAMETOOLONG') return undefined;
      throw err;
    }
    if (!st.isFile()) return undefined;
    return { key, size: st.size, etag: await this.etagOf(key, path, st.size, st.mtimeMs), contentType: contentTypeFor(key), lastModified: st.mtimeMs };
  }

  async get(key: string, range?: { start: number; end: number }) {
    const info = await this.head(key);
    if (!info) return undefined;
    const body = createReadStream(this.pathOf(key), range ? { start: range.start, end: range.end } : {});
    return { info, body };
  }

  async delete(key: string): Promise<boolean> {
    try {
      await unlink(this.pathOf(key));
      this.etags.delete(key);
      return true;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // not there, or a folder of other objects' paths: there is no such object
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR' || code === 'EPERM') return false;
      throw err;
    }
  }

  /** Walks the tree (fine for the embedded store's sizes; an index would scale further). */
  async freeBytes(): Promise<number> {
    const fs = await statfs(this.root);
    return fs.bavail * fs.bsize;
  }

  async list(q: ListQuery): Promise<ListResult> {
    const all: string[] = [];
    const walk = async (dir: string, prefix: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      for (const e of entries) {
        if (prefix === '' && e.name === TMP_DIR) continue;
        const key = prefix + e.name;
        // only descend where the prefix can still match
        if (e.isDirectory() && (q.prefix.startsWith(key + '/') || (key + '/').startsWith(q.prefix))) await walk(join(dir, e.name), key + '/');
        else if (e.isFile() && key.startsWith(q.prefix)) all.push(key);
      }
    };
    await walk(this.root, '');
    all.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    const page = listSorted(all, q);
    const objects = await Promise.all(page.keys.map(async (k) => (await this.head(k))!));
    return { objects: objects.filter(Boolean), commonPrefixes: page.commonPrefixes, truncated: page.truncated, nextMarker: page.nextMarker };
  }

  /** Removes temp files left by this process and by dead processes of this host; other hosts' are theirs to clean. */
  async cleanUp(): Promise<void> {
    await this.tmpFiles.drain();
    const base = join(this.root, TMP_DIR);
    const prefix = `${hostname()}-`;
    const left = await readdir(base).catch(() => [] as string[]);
    for (const name of left) {
      const pid = Number(name.slice(prefix.length));
      if (!name.startsWith(prefix) || !Number.isInteger(pid)) continue;
      if (pid === process.pid || !processAlive(pid)) await rm(join(base, name), { recursive: true, force: true });
    }
    this.dirs.clear();
  }

  async close(): Promise<void> {
    await this.tmpFiles.close();
    await Promise.all(this.flushing);
  }

  /**
   * Closes a written file; a large one (a segment) is first flushed to disk in the
   * background. Without that, gigabytes of dirty pages pile up until the kernel writes
   * them back in bursts, and during each burst every write and rename on the filesystem
   * stalls for 100–200 ms (measured on ext4 at 200 streams, from about 30 s on).
   */
  private release(fd: number, size: number): void {
    if (size < FLUSH_MIN_BYTES || this.flushing.size >= MAX_BACKGROUND_FLUSHES) {
      fsClose(fd, () => {});
      return;
    }
    const flushed = new Promise<void>((resolve) => fsFdatasync(fd, () => fsClose(fd, () => resolve())));
    this.flushing.add(flushed);
    void flushed.then(() => this.flushing.delete(flushed));
  }

  private async etagOf(key: string, path: string, size: number, mtimeMs: number): Promise<string> {
    const known = this.etags.get(key);
    if (known && known.size === size && known.mtimeMs === mtimeMs) return known.etag;
    const hash = createHash('md5');
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
    const etag = `"${hash.digest('hex').toUpperCase()}"`;
    this.etags.set(key, { size, mtimeMs, etag });
    return etag;
  }
}
