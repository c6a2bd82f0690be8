import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { createApp, defaultNodeId } from './app.js';
import { signPlayUrl } from './auth/play-url.js';
import { obsFields, signPushUrl } from './auth/push-url.js';
import { ConfigError, DEMO_CREDENTIALS_FILE, loadConfig, type Config } from './config.js';
import { UrlBuilder } from './http/urls.js';
import { remuxFile } from './tools/remux.js';
import { VIDEO_CODEC_NAMES } from './media/packager.js';
import { gatewayEndpoint, ossClient } from './cli/api-client.js';
import { intInRange, playlistName } from './cli/arguments.js';
import { channelCommands, describeApiError } from './cli/channel-commands.js';
import { runPrimary } from './workers/primary.js';
import { groupMetrics, joinPrimary, reportStartFailure, workerIndex } from './workers/worker.js';

/** The package's version (package.json sits one level above both src/ and dist/). */
export const VERSION = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

export function buildProgram(): Command {
  const program = new Command('livechannel')
    .description('Self-hosted OSS-compatible LiveChannel gateway: RTMP in, HLS out')
    .version(VERSION, '-V, --version', 'print the version')
    .showHelpAfterError();

  program
    .command('remux')
    .description('cut an FLV file (H.264/AAC) into MPEG-TS (or fMP4) segments and an HLS playlist')
    .argument('<input>', 'FLV file')
    .argument('<outdir>', 'directory for segments and playlists (created if missing)')
    .option('--frag-duration <seconds>', 'target segment duration, 1..100', intInRange('frag-duration', 1, 100), 5)
    .option('--frag-count <n>', 'segments in the live playlist, 1..100', intInRange('frag-count', 1, 100), 3)
    .option('--playlist-name <name>', 'live playlist file name', playlistName, 'playlist.m3u8')
    .option('--vod-playlist <name>', 'also write a VOD playlist of every segment', playlistName)
    .option('--fmp4', 'fMP4 (CMAF) segments and an init segment instead of MPEG-TS')
    .action(async (input: string, outDir: string, opts) => {
      const result = await remuxFile({
        input,
        outDir,
        fragDuration: opts.fragDuration,
        fragCount: opts.fragCount,
        playlistName: opts.playlistName,
        vodPlaylistName: opts.vodPlaylist,
        container: opts.fmp4 ? 'fmp4' : 'ts',
      });
      for (const n of result.notices) console.error(`notice: ${n}`);
      const total = result.segments.reduce((s, e) => s + e.duration, 0);
      const v = result.media.video;
      const a = result.media.audio;
      console.log(
        `${result.segments.length} segments, ${total.toFixed(3)} s` +
          (v ? `, video ${v.width}x${v.height} ${VIDEO_CODEC_NAMES[v.codec]} ${v.profile}@${v.level}${v.frameRate ? ` ${v.frameRate} fps` : ''}` : ', no video') +
          (a ? `, audio AAC ${a.sampleRate} Hz ${a.channels} ch` : ', no audio'),
      );
      if (result.segments.length === 0) {
        console.error('error: no segments produced (no H.264 keyframe found?)');
        process.exitCode = 1;
      }
    });

  program
    .command('serve')
    .description('run the gateway: RTMP ingest, HLS playback and the OSS-compatible LiveChannel API')
    .option('-c, --config <file>', 'JSON config file (env overrides: LIVECHANNEL_HTTP_PORT, ...)')
    .action(async (opts: { config?: string }) => {
      const config = loadConfig(opts.config);
      const workers = config.workers === 'auto' ? availableParallelism() : config.workers;
      if (workers > 1 && cluster.isPrimary) {
        const failed = await runPrimary({
          workers,
          onListening: (ports) => {
            const urls = new UrlBuilder({ publicHost: config.publicHost, httpPort: () => ports.httpPort, rtmpPort: () => ports.rtmpPort, rtmpsPort: () => ports.rtmpsPort, httpsPort: () => ports.httpsPort });
            printBanner(config, urls, ports, [`workers: ${workers} (node ids ${config.nodeId ?? defaultNodeId(config)}/w1…w${workers})`]);
          },
          log: (message) => console.error(message),
        });
        process.exit(failed ? 1 : 0);
      }
      const index = workerIndex();
      const app =
        index === undefined
          ? createApp(config)
          : createApp(
              {
                ...config,
                nodeId: `${config.nodeId ?? defaultNodeId(config)}/w${index}`,
                // each worker its own peer port: a configured one is the first worker's, the next ones follow it
                cluster: { ...config.cluster, peerPort: config.cluster.peerPort === 0 ? 0 : config.cluster.peerPort + index - 1 },
                // the gateway's decoders, shared out among its workers
                snapshots: {
                  ...config.snapshots,
                  decoders: Math.max(1, Math.ceil(config.snapshots.decoders / workers)),
                  maxQueued: Math.ceil(config.snapshots.maxQueued / workers),
                },
              },
              { metricsText: groupMetrics },
            );
      try {
        await app.start();
      } catch (err) {
        // one line and exit 1, whatever is still open: a supervisor must see the failure
        const line = `error: ${(err as Error).message}`;
        // a worker's line is printed once, by the primary
        if (index === undefined) console.error(line);
        else await reportStartFailure(line);
        process.exit(1);
      }
      const ports = { httpPort: app.httpPort(), rtmpPort: app.rtmpPort(), rtmpsPort: app.rtmpsPort(), httpsPort: app.httpsPort(), srtPort: app.srtPort() };
      if (index === undefined) printBanner(config, app.urls, ports);
      else joinPrimary(app.metrics.registry, ports);
      let stopping = false;
      const stop = async (signal: string) => {
        if (stopping) return;
        stopping = true;
        app.http.log.info({ signal }, 'shutting down');
        await app.stop();
        process.exit(0);
      };
      process.on('SIGINT', () => void stop('SIGINT'));
      process.on('SIGTERM', () => void stop('SIGTERM'));
      // a hang-up (a closed terminal, a service manager's reload) must not kill live pushes
      process.on('SIGHUP', () => {
        if (config.tls) app.reloadTls();
        else app.http.log.info({ signal: 'SIGHUP' }, 'SIGHUP: nothing to reload (no TLS; the config is read at start: restart to apply a change)');
      });
    });

  program.addCommand(channelCommands());

  program
    .command('sign-url')
    .description('print a signed RTMP push URL (the same URL ali-oss getRtmpUrl makes)')
    .argument('<bucket>', 'bucket name')
    .argument('<channel>', 'live channel name')
    .option('-c, --config <file>', 'JSON config file (for host, port and keys)')
    .option('--expires <seconds>', 'validity from now, in seconds', intInRange('expires', 1, 10 * 365 * 86400), 3600)
    .option('--playlist-name <name>', 'playlistName parameter (signed with the URL)', playlistName)
    .option('--access-key-id <id>', 'which configured key signs (default: the first)')
    .option('--obs', "print OBS's two fields (Server, Stream Key) instead of one URL")
    .option('--rtmps', 'an rtmps:// URL (RTMP over TLS, the gateway\'s RTMPS port)')
    .option('--srt', 'an srt:// URL for ffmpeg (MPEG-TS over SRT, the gateway\'s SRT port); with --obs, OBS\'s Server field')
    .action(async (bucket: string, channel: string, opts: { config?: string; expires: number; playlistName?: string; accessKeyId?: string; obs?: boolean; rtmps?: boolean; srt?: boolean }) => {
      const config = loadConfig(opts.config);
      if (!config.buckets.some((b) => b.name === bucket)) throw new ConfigError(`bucket "${bucket}" is not configured`);
      const key = opts.accessKeyId ? config.credentials.find((c) => c.accessKeyId === opts.accessKeyId) : config.credentials[0];
      if (!key) throw new ConfigError(`access key "${opts.accessKeyId}" is not configured`);
      const urls = configUrls(config);
      if (opts.srt && !config.srt) throw new ConfigError('SRT is off: set "srt" in the config');
      const base = urls.rtmpBase(bucket, Boolean(opts.rtmps));
      await warnUnchecked(config, key, bucket, channel, base);
      const url = signPushUrl({
        base,
        bucket,
        channel,
        accessKeyId: key.accessKeyId,
        accessKeySecret: key.accessKeySecret,
        expires: Math.floor(Date.now() / 1000) + opts.expires,
        params: opts.playlistName ? { playlistName: opts.playlistName } : undefined,
      });
      if (opts.srt) {
        const srt = srtUrl(config, url);
        console.log(opts.obs ? `Server:     ${srt}\nStream Key: (leave empty)` : srt);
        return;
      }
      if (!opts.obs) {
        console.log(url);
        return;
      }
      const { server, streamKey } = obsFields(url);
      console.log(`Server:     ${server}\nStream Key: ${streamKey}`);
    });

  program
    .command('play-url')
    .description('print a signed playlist URL that plays a private channel (x-oss-process=hls/sign)')
    .argument('<bucket>', 'bucket name')
    .argument('<channel>', 'live channel name')
    .option('-c, --config <file>', 'JSON config file (for host, port and keys)')
    .option('--expires <seconds>', 'validity from now, in seconds', intInRange('expires', 1, 10 * 365 * 86400), 3600)
    .option('--playlist-name <name>', 'playlist to play', playlistName, 'playlist.m3u8')
    .option('--https', 'an https:// URL (the gateway\'s HTTPS port)')
    .action(async (bucket: string, channel: string, opts: { config?: string; expires: number; playlistName: string; https?: boolean }) => {
      const config = loadConfig(opts.config);
      if (!config.buckets.some((b) => b.name === bucket)) throw new ConfigError(`bucket "${bucket}" is not configured`);
      const key = config.credentials[0]!;
      const objectKey = `${channel}/${opts.playlistName}`;
      const url = configUrls(config).objectUrl(bucket, objectKey, Boolean(opts.https));
      await warnUnchecked(config, key, bucket, channel, url);
      const expires = Math.floor(Date.now() / 1000) + opts.expires;
      console.log(signPlayUrl({ url, bucket, objectKey, ...key, expires }));
    });

  return program;
}

/**
 * A URL is printed only after the gateway the config names has confirmed the channel: a
 * channel it does not know fails the command; a gateway that cannot be asked gets a warning on
 * stderr saying which address the URL assumes and how to point the CLI at the right config.
 */
async function warnUnchecked(config: Config, key: { accessKeyId: string; accessKeySecret: string }, bucket: string, channel: string, assumed: string): Promise<void> {
  const endpoint = gatewayEndpoint(config);
  const client = ossClient({ endpoint, ...key }, bucket);
  try {
    await client.getChannel(channel, { timeout: 1500 });
  } catch (err) {
    const e = err as { code?: string; status?: number; message?: string };
    if (e.code === 'NoSuchLiveChannel') {
      throw new Error(`live channel "${channel}" does not exist in bucket "${bucket}" (create it first: livechannel channel create ${bucket} ${channel}${configFlag(config)})`);
    }
    const why = typeof e.status === 'number' && e.status > 0 ? `it answered ${e.code ?? e.status}` : (describeApiError(err) ?? e.message ?? 'no answer');
    console.error(`warning: could not check "${bucket}/${channel}" with the gateway at ${endpoint} (${why}); the URL below assumes the gateway at ${assumed}. ${whereFrom(config)}`);
  }
}

export interface ListeningPorts {
  httpPort: number;
  rtmpPort: number;
  rtmpsPort?: number;
  httpsPort?: number;
  srtPort?: number;
}

/** URLs as a config says the gateway listens (for the commands that print URLs without asking it). */
function configUrls(config: Config): UrlBuilder {
  return new UrlBuilder({
    publicHost: config.publicHost,
    httpPort: () => config.http.port,
    rtmpPort: () => config.rtmp.port,
    rtmpsPort: () => config.rtmps?.port,
    httpsPort: () => config.https?.port,
  });
}

/**
 * The srt:// URL of a signed push URL: its path and query as the stream id, percent-encoded
 * (ffmpeg and OBS pass the query on as written), the passphrase, and the latency in
 * microseconds (ffmpeg's unit for `latency`).
 */
function srtUrl(config: Config, pushUrl: string): string {
  const srt = config.srt!;
  const streamId = pushUrl.replace(/^rtmps?:\/\/[^/]+\//, '');
  const host = config.publicHost.includes(':') ? `[${config.publicHost}]` : config.publicHost;
  const query = [`streamid=${encodeURIComponent(streamId)}`, `latency=${srt.latencyMs * 1000}`];
  if (srt.passphrase) query.push(`passphrase=${srt.passphrase}`, `pbkeylen=${srt.pbKeyLen}`);
  return `srt://${host}:${srt.port}?${query.join('&')}`;
}

/** ` -c <file>` when a config file was read (hints repeat it), else nothing. */
const configFlag = (config: Config) => (config.file ? ` -c ${config.file}` : '');

/** Which config the CLI read, and how to point it at another gateway. */
function whereFrom(config: Config): string {
  return config.file
    ? `(Read ${config.file}; is that gateway running?)`
    : `(No config found, so the defaults: pass the gateway's config with -c <file>, or set LIVECHANNEL_CONFIG, or run where its livechannel.json is.)`;
}

/** The start-up banner, `more` lines at its end, in one write (a reader that sees its first line sees all of it). */
function printBanner(config: Config, urls: UrlBuilder, ports: ListeningPorts, more: string[] = []): void {
  const { httpPort, rtmpPort } = ports;
  const listening = [
    config.http.enabled ? `API http://${config.http.host}:${httpPort}` : '',
    config.rtmp.enabled ? `RTMP rtmp://${config.rtmp.host}:${rtmpPort}` : '',
    config.https ? `HTTPS https://${config.https.host}:${ports.httpsPort}` : '',
    config.rtmps ? `RTMPS rtmps://${config.rtmps.host}:${ports.rtmpsPort}` : '',
    config.srt ? `SRT srt://${config.srt.host}:${ports.srtPort}` : '',
  ].filter(Boolean);
  const c = configFlag(config);
  const lines = [
    `livechannel listening: ${listening.join('  ')}`,
    `config: ${config.file ?? 'none (defaults; -c <file>, LIVECHANNEL_CONFIG or ./livechannel.json)'}`,
    `data: ${config.dataDir}`,
    `buckets: ${config.buckets.map((b) => `${b.name} (${b.acl})`).join(', ')}; default ${config.defaultBucket}`,
  ];
  if (config.demo) {
    lines.push(
      '',
      `${config.file ? `${config.file} names no buckets or credentials` : 'No config given'}: serving a demo bucket with this key (kept in ${join(config.dataDir, DEMO_CREDENTIALS_FILE)}):`,
      `  bucket:          ${config.demo.bucket}`,
      `  AccessKeyId:     ${config.demo.accessKeyId}`,
      `  AccessKeySecret: ${config.demo.accessKeySecret}`,
      `  endpoint:        http://${config.publicHost}:${httpPort}  (ali-oss: new OSS({ endpoint, bucket, accessKeyId, accessKeySecret }))`,
      `  console:         http://${config.publicHost}:${httpPort}/console`,
      `  create a channel:       npx livechannel channel create ${config.demo.bucket} <channel>${c}`,
      `  push URL (signed, 1 h): npx livechannel sign-url ${config.demo.bucket} <channel>${c}`,
      `  play URL (signed, 1 h): npx livechannel play-url ${config.demo.bucket} <channel>${c}`,
      `  push with ffmpeg:       ffmpeg -re -i in.mp4 -c:v libx264 -c:a aac -f flv "<push URL>"`,
    );
  } else {
    lines.push(`push URL (signed, 1 h): npx livechannel sign-url <bucket> <channel>${c}${config.rtmps ? ' [--rtmps]' : ''}; play URL: npx livechannel play-url <bucket> <channel>${c}${config.https ? ' [--https]' : ''}`);
    const open = config.buckets.find((b) => b.acl !== 'private');
    if (open) lines.push(`a ${open.acl} bucket plays unsigned: ${urls.playUrl(open.name, 'CHANNEL', 'playlist.m3u8').replace('CHANNEL', '<channel>')}`);
  }
  console.log([...lines, ...more].join('\n'));
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (err) {
    console.error(err instanceof ConfigError ? `config error: ${err.message}` : `error: ${describeApiError(err) ?? (err as Error).message}`);
    process.exitCode = 1;
  }
}
