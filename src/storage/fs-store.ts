import { createHash } from 'node:crypto';
import { close as fsClose, createReadStream, open as fsOpen, rename as fsRename, writeFile as fsWriteFile, writev as fsWritev } from 'node:fs';
import { mkdir, readdir, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import {
  contentTypeFor,
  dataLength,
  InvalidObjectKeyError,
  joinData,
  listSorted,
  type ListQuery,
  type ListResult,
  type ObjectData,
  type ObjectInfo,
  type ObjectStore,
} from './object-store.js';

/**
 * write + rename with the callback API: the same thread-pool work as fs/promises, with far
 * less main-thread overhead (no FileHandle objects), which matters at hundreds of channels.
 */
function writeThenRename(tmp: string, path: string, data: ObjectData): Promise<void> {
  return new Promise((resolve, reject) => {
    const renamed = (err: Error | null) => {
      if (err) return reject(err);
      fsRename(tmp, path, (err2) => (err2 ? reject(err2) : resolve()));
    };
    if (!Array.isArray(data)) {
      fsWriteFile(tmp, data as Uint8Array | string, renamed);
      return;
    }
    // chunks: one writev, no concatenation
    fsOpen(tmp, 'w', (err, fd) => {
      if (err) return reject(err);
      const chunks = data as readonly Uint8Array[];
      const total = dataLength(chunks);
      const writeRest = (done: number) => {
        if (done >= total) return fsClose(fd, renamed);
        let skip = done;
        const rest: Uint8Array[] = [];
        for (const c of chunks) {
          if (skip >= c.length) skip -= c.length;
          else {
            rest.push(skip > 0 ? c.subarray(skip) : c);
            skip = 0;
          }
        }
        fsWritev(fd, rest, (err2, written) => (err2 ? fsClose(fd, () => reject(err2)) : writeRest(done + written)));
      };
      writeRest(0);
    });
  });
}

/** Directory under the root for in-flight writes (never a valid key prefix). */
const TMP_DIR = '.lc-tmp';

/**
 * Objects as files under one root directory. Writes go to a temp file and are renamed
 * into place, so a reader (or a crash) never sees a partial object. ETags are the
 * content MD5, remembered from writes and computed on first read otherwise.
 */
export class FsObjectStore implements ObjectStore {
  readonly root: string;
  private readonly etags = new Map<string, { size: number; mtimeMs: number; etag: string }>();
  private readonly dirs = new Set<string>();
  private tmpCounter = 0;

  constructor(root: string) {
    this.root = resolve(root);
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
    const path = this.pathOf(key);
    const tmp = join(this.root, TMP_DIR, `${process.pid}-${this.tmpCounter++}`);
    await this.ensureDir(join(this.root, TMP_DIR));
    try {
      await this.ensureDir(dirname(path));
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR') throw new InvalidObjectKeyError(`object key "${key}" conflicts with an existing object's path`);
      throw err;
    }
    try {
      await writeThenRename(tmp, path, data);
    } catch (err) {
      await rm(tmp, { force: true });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') this.dirs.clear(); // a folder vanished under us
      if (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST') {
        // OSS names are flat ("a" and "a/b" may both exist); files and folders cannot
        throw new InvalidObjectKeyError(`object key "${key}" conflicts with an existing object's path`);
      }
      throw err;
    }
    // The MD5 ETag is computed when somebody asks for it (most segments are only written here).
    return {
      key,
      size: dataLength(data),
      get etag(): string {
        return `"${createHash('md5').update(joinData(data)).digest('hex').toUpperCase()}"`;
      },
      contentType: contentType ?? contentTypeFor(key),
      lastModified: Date.now(),
    };
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

  async cleanUp(): Promise<void> {
    await rm(join(this.root, TMP_DIR), { recursive: true, force: true });
    this.dirs.clear();
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
