import { createReadStream } from 'node:fs';
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { FlvDemuxer } from '../media/flv.js';
import { objectNames } from '../media/object-names.js';
import { LivePackager, type Container, type MediaInfo, type PackagerEvent } from '../media/packager.js';
import { renderVodPlaylist, type PlaylistEntry } from '../media/playlist.js';

export interface RemuxOptions {
  input: string;
  outDir: string;
  fragDuration: number;
  fragCount: number;
  playlistName: string;
  /** Also write a VOD playlist listing every segment under this name. */
  vodPlaylistName?: string;
  /** 'ts' (default) or 'fmp4' (`.m4s` segments after `<playlist>-init<N>.mp4`). */
  container?: Container;
}

export interface RemuxResult {
  segments: PlaylistEntry[];
  notices: string[];
  media: MediaInfo;
  bytesIn: number;
}

const MAX_QUEUED_WRITES = 8;

async function writeAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

/** Runs an FLV file through the live packager and writes its segments and playlists. */
export async function remuxFile(options: RemuxOptions): Promise<RemuxResult> {
  await mkdir(options.outDir, { recursive: true });
  const { segmentUri, initUri } = objectNames(options.playlistName, options.container ?? 'ts');
  const packager = new LivePackager({ fragDuration: options.fragDuration, fragCount: options.fragCount, container: options.container, segmentUri, initUri });
  const demuxer = new FlvDemuxer();
  const result: RemuxResult = { segments: [], notices: [], media: {}, bytesIn: 0 };

  // Writes run in order in the background while the next segment is being cut; at most
  // `MAX_QUEUED_WRITES` wait at once, so memory stays bounded.
  let queue: Promise<void> = Promise.resolve();
  let queued = 0;
  let writeError: Error | undefined;
  const enqueue = async (path: string, data: string | Uint8Array) => {
    if (writeError) throw writeError;
    queued++;
    queue = queue
      .then(() => (writeError ? undefined : writeAtomic(path, data)))
      .catch((err: Error) => void (writeError ??= err))
      .finally(() => void queued--);
    if (queued >= MAX_QUEUED_WRITES) await queue;
  };

  const carryOut = async (events: PackagerEvent[]) => {
    for (const e of events) {
      if (e.type === 'segment') {
        await enqueue(join(options.outDir, e.segment.uri), e.segment.data);
        result.segments.push({
          sequence: e.segment.sequence,
          uri: e.segment.uri,
          duration: e.segment.durationMs / 1000,
          discontinuity: e.segment.discontinuity,
          ...(e.segment.initUri !== undefined ? { map: e.segment.initUri } : {}),
        });
      } else if (e.type === 'init') {
        await enqueue(join(options.outDir, e.uri), e.data);
      } else if (e.type === 'playlist') {
        await enqueue(join(options.outDir, options.playlistName), e.text);
      } else if (e.type === 'notice') {
        result.notices.push(`${e.code}: ${e.message}`);
      }
    }
  };

  for await (const chunk of createReadStream(options.input, { highWaterMark: 4 << 20 })) {
    const buf = chunk as Buffer;
    result.bytesIn += buf.length;
    for (const tag of demuxer.push(buf)) await carryOut(packager.push(tag.type, tag.timestamp, tag.data));
  }
  if (demuxer.pendingBytes > 0) result.notices.push(`truncated-input: ${demuxer.pendingBytes} trailing bytes ignored`);
  await carryOut(packager.finish());
  await queue;
  if (writeError) throw writeError;
  result.media = packager.mediaInfo();
  if (options.vodPlaylistName) {
    await writeAtomic(join(options.outDir, options.vodPlaylistName), renderVodPlaylist(result.segments));
  }
  return result;
}
