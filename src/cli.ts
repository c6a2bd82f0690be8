import { Command, InvalidArgumentError } from 'commander';
import { remuxFile } from './tools/remux.js';

function intInRange(name: string, min: number, max: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
    }
    return n;
  };
}

function playlistName(value: string): string {
  if (!value.endsWith('.m3u8') || value.length < 6 || value.length > 128 || value.includes('/')) {
    throw new InvalidArgumentError('playlist name must end in .m3u8, be 6..128 characters and contain no "/"');
  }
  return value;
}

export function buildProgram(): Command {
  const program = new Command('livechannel')
    .description('Self-hosted OSS-compatible LiveChannel gateway: RTMP in, HLS out')
    .showHelpAfterError();

  program
    .command('remux')
    .description('cut an FLV file (H.264/AAC) into MPEG-TS segments and an HLS playlist')
    .argument('<input>', 'FLV file')
    .argument('<outdir>', 'directory for segments and playlists (created if missing)')
    .option('--frag-duration <seconds>', 'target segment duration, 1..100', intInRange('frag-duration', 1, 100), 5)
    .option('--frag-count <n>', 'segments in the live playlist, 1..100', intInRange('frag-count', 1, 100), 3)
    .option('--playlist-name <name>', 'live playlist file name', playlistName, 'playlist.m3u8')
    .option('--vod-playlist <name>', 'also write a VOD playlist of every segment', playlistName)
    .action(async (input: string, outDir: string, opts) => {
      const result = await remuxFile({
        input,
        outDir,
        fragDuration: opts.fragDuration,
        fragCount: opts.fragCount,
        playlistName: opts.playlistName,
        vodPlaylistName: opts.vodPlaylist,
      });
      for (const n of result.notices) console.error(`notice: ${n}`);
      const total = result.segments.reduce((s, e) => s + e.duration, 0);
      const v = result.media.video;
      const a = result.media.audio;
      console.log(
        `${result.segments.length} segments, ${total.toFixed(3)} s` +
          (v ? `, video ${v.width}x${v.height} H.264 ${v.profile}@${v.level}${v.frameRate ? ` ${v.frameRate} fps` : ''}` : ', no video') +
          (a ? `, audio AAC ${a.sampleRate} Hz ${a.channels} ch` : ', no audio'),
      );
      if (result.segments.length === 0) {
        console.error('error: no segments produced (no H.264 keyframe found?)');
        process.exitCode = 1;
      }
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    console.error(`error: ${(err as Error).message}`);
    process.exitCode = 1;
  }
}
