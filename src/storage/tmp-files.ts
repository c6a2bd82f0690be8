import { close as fsClose, open as fsOpen, unlink as fsUnlink } from 'node:fs';
import { join } from 'node:path';

export interface TmpFile {
  path: string;
  fd: number;
}

/** Unique across every store in this process. */
let counter = 0;

function openNew(dir: string): Promise<TmpFile> {
  const path = join(dir, `${process.pid}-${counter++}`);
  return new Promise((resolve, reject) => fsOpen(path, 'wx', (err, fd) => (err ? reject(err) : resolve({ path, fd }))));
}

/** Closes and removes a temp file that will not be renamed into place. */
export function discardTmpFile(file: TmpFile): Promise<void> {
  return new Promise((resolve) => fsClose(file.fd, () => fsUnlink(file.path, () => resolve())));
}

/**
 * Empty temp files opened ahead of need. Each write through the thread pool waits for an
 * event-loop turn on a busy gateway, so taking the open() out of the write path shortens
 * the time from a segment's last frame to its playlist being readable.
 */
export class TmpFilePool {
  private readonly spare: TmpFile[] = [];
  private opening = 0;
  /** Opens under way, each settled once its file is kept or discarded. */
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  /** Bumped by drain(): files still being opened then are not kept. */
  private generation = 0;

  constructor(
    private readonly dir: () => Promise<string>,
    private readonly size: number,
  ) {}

  async take(): Promise<TmpFile> {
    const file = this.spare.pop() ?? (await openNew(await this.dir()));
    this.refill();
    return file;
  }

  /** Closes and removes the spare files; later takes open new ones. */
  async drain(): Promise<void> {
    this.generation++;
    const files = this.spare.splice(0);
    await Promise.all(files.map(discardTmpFile));
  }

  /** Drains and stops keeping spares; files still being opened are removed before it resolves. */
  async close(): Promise<void> {
    this.closed = true;
    await this.drain();
    await Promise.all(this.inFlight);
  }

  private refill(): void {
    while (!this.closed && this.spare.length + this.opening < this.size) {
      this.opening++;
      const generation = this.generation;
      const opened: Promise<void> = this.dir()
        .then(openNew)
        .then(
          async (file) => {
            this.opening--;
            if (this.closed || generation !== this.generation) await discardTmpFile(file).catch(() => {});
            else this.spare.push(file);
          },
          // a failing open shows up on the next write, which opens its own file
          () => void this.opening--,
        )
        .finally(() => this.inFlight.delete(opened));
      this.inFlight.add(opened);
    }
  }
}
