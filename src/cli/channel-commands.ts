import { Command, Option } from 'commander';
import { signPlayUrl } from '../auth/play-url.js';
import { signPushUrl } from '../auth/push-url.js';
import { ossClient, resolveApiTarget, unreachableHint, type ApiOptions, type ApiTarget } from './api-client.js';
import { intInRange } from './arguments.js';
import { parseCliTime } from './cli-time.js';
import { table } from './table.js';
import { addHealthCommand } from './health-command.js';

interface CommonOptions extends ApiOptions {
  json?: boolean;
}

/** The options every channel command takes: where the API is, which key signs, and --json. */
function withApiOptions(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', "the gateway's JSON config file (its HTTP address and first key)")
    .addOption(new Option('--endpoint <url>', 'API endpoint, http(s)://host[:port]').env('LIVECHANNEL_ENDPOINT'))
    .addOption(new Option('--access-key-id <id>', 'access key id').env('LIVECHANNEL_ACCESS_KEY_ID'))
    .addOption(new Option('--access-key-secret <secret>', 'access key secret').env('LIVECHANNEL_ACCESS_KEY_SECRET'))
    .option('--json', 'print the API answer as JSON (for scripts)');
}

const iso = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
const print = (json: boolean | undefined, data: unknown, human: () => string) => console.log(json ? JSON.stringify(data, null, 2) : human());

/** `livechannel channel …`: the LiveChannel API from a shell, signed like any OSS client. */
export function channelCommands(): Command {
  const channel = new Command('channel').description('manage live channels through the OSS API (this gateway, a remote one, or OSS itself)');
  let target: ApiTarget | undefined;
  const client = (bucket: string, opts: CommonOptions) => {
    target = resolveApiTarget(opts);
    return withReachHint(ossClient(target, bucket), target);
  };

  withApiOptions(
    channel
      .command('create')
      .description('create (or replace) a live channel')
      .argument('<bucket>')
      .argument('<name>')
      .option('--frag-duration <seconds>', 'segment duration, 1..100', intInRange('frag-duration', 1, 100), 5)
      .option('--frag-count <n>', 'segments in the live playlist, 1..100', intInRange('frag-count', 1, 100), 3)
      .option('--playlist-name <name>', 'live playlist name', 'playlist.m3u8')
      .option('--description <text>', 'description', '')
      .option('--disabled', 'create it disabled')
      .option('--segment-format <format>', 'TS or fMP4 (this gateway\'s extension; fMP4 is needed for AV1)')
      .option('--part-duration <seconds>', 'LL-HLS part length, 0.2..2 (this gateway\'s extension; fMP4 channels)')
      .option('--expires <seconds>', 'validity of the signed URLs printed for a private bucket', intInRange('expires', 1, 10 * 365 * 86400), 3600),
  ).action(async (bucket: string, name: string, opts: CommonOptions & { fragDuration: number; fragCount: number; playlistName: string; description: string; disabled?: boolean; segmentFormat?: string; partDuration?: string; expires: number }) => {
    const conf = {
      Description: opts.description,
      Status: opts.disabled ? 'disabled' : 'enabled',
      Target: {
        Type: 'HLS',
        FragDuration: String(opts.fragDuration),
        FragCount: String(opts.fragCount),
        PlaylistName: opts.playlistName,
        // the gateway checks them (and answers which is wrong)
        ...(opts.segmentFormat !== undefined ? { SegmentFormat: opts.segmentFormat } : {}),
        ...(opts.partDuration !== undefined ? { PartDuration: opts.partDuration } : {}),
      },
    };
    const c = client(bucket, opts);
    const r = await c.putChannel(name, conf);
    const urls = await usableUrls(c, target!, bucket, name, opts.playlistName, r.publishUrls[0], r.playUrls[0], opts.expires);
    print(opts.json, { publishUrls: r.publishUrls, playUrls: r.playUrls, ...urls.json }, () => `created ${bucket}/${name}\n${urls.lines.join('\n')}`);
  });

  withApiOptions(channel.command('list').description('list live channels').argument('<bucket>').option('--prefix <prefix>', 'only names starting with this', '')).action(
    async (bucket: string, opts: CommonOptions & { prefix: string }) => {
      const c = client(bucket, opts);
      const all: { Name: string; Status: string; LastModified: string; Description: string }[] = [];
      let marker: string | null = '';
      do {
        const page: { channels: typeof all; nextMarker: string | null; isTruncated: boolean } = await c.listChannels({ prefix: opts.prefix, marker, 'max-keys': 1000 });
        all.push(...page.channels);
        marker = page.isTruncated ? page.nextMarker : null;
      } while (marker);
      print(opts.json, all, () => (all.length ? table(['NAME', 'STATUS', 'LAST MODIFIED', 'DESCRIPTION'], all.map((x) => [x.Name, x.Status, x.LastModified, x.Description || undefined])) : 'no channels'));
    },
  );

  withApiOptions(channel.command('info').description("a channel's configuration").argument('<bucket>').argument('<name>')).action(async (bucket: string, name: string, opts: CommonOptions) => {
    const { data } = await client(bucket, opts).getChannel(name);
    const t = data.Target ?? {};
    print(opts.json, data, () =>
      table(['FIELD', 'VALUE'], [
        ['status', data.Status],
        ['description', data.Description || undefined],
        ['fragDuration', t.FragDuration],
        ['fragCount', t.FragCount],
        ['playlistName', t.PlaylistName],
        ['segmentFormat', t.SegmentFormat],
        ['partDuration', t.PartDuration],
      ]),
    );
  });

  withApiOptions(channel.command('stat').description('whether a channel is live, and its video and audio').argument('<bucket>').argument('<name>')).action(
    async (bucket: string, name: string, opts: CommonOptions) => {
      const { data } = await client(bucket, opts).getChannelStatus(name);
      print(opts.json, data, () => {
        if (data.Status !== 'Live') return data.Status;
        const lines = [`Live since ${data.ConnectedTime} from ${data.RemoteAddr}`];
        if (data.Video) lines.push(`video: ${data.Video.Codec} ${data.Video.Width}x${data.Video.Height} ${data.Video.FrameRate} fps, ${data.Video.Bandwidth} B/s`);
        if (data.Audio) lines.push(`audio: ${data.Audio.Codec} ${data.Audio.SampleRate} Hz, ${data.Audio.Bandwidth} B/s`);
        return lines.join('\n');
      });
    },
  );

  withApiOptions(channel.command('history').description("a channel's last pushes").argument('<bucket>').argument('<name>')).action(async (bucket: string, name: string, opts: CommonOptions) => {
    const { records } = await client(bucket, opts).getChannelHistory(name);
    const rows = (records ?? []) as { StartTime: string; EndTime?: string; RemoteAddr: string; EndReason?: string }[];
    print(opts.json, rows, () => (rows.length ? table(['START', 'END', 'REMOTE', 'REASON'], rows.map((r) => [r.StartTime, iso(r.EndTime), r.RemoteAddr, r.EndReason])) : 'no pushes'));
  });

  addHealthCommand(channel, withApiOptions, (opts) => (target = resolveApiTarget(opts)));

  for (const status of ['enable', 'disable'] as const) {
    withApiOptions(channel.command(status).description(`${status} a channel${status === 'disable' ? ' (its publisher is cut)' : ''}`).argument('<bucket>').argument('<name>')).action(
      async (bucket: string, name: string, opts: CommonOptions) => {
        await client(bucket, opts).putChannelStatus(name, `${status}d`);
        print(opts.json, { status: `${status}d` }, () => `${bucket}/${name} ${status}d`);
      },
    );
  }

  withApiOptions(channel.command('delete').description('delete a channel (its segments stay in the bucket)').argument('<bucket>').argument('<name>')).action(
    async (bucket: string, name: string, opts: CommonOptions) => {
      await client(bucket, opts).deleteChannel(name);
      print(opts.json, { deleted: name }, () => `deleted ${bucket}/${name}`);
    },
  );

  withApiOptions(
    channel
      .command('vod')
      .description('write a VOD playlist of the segments pushed between two times')
      .argument('<bucket>')
      .argument('<name>')
      .requiredOption('--from <time>', 'ISO time, Unix seconds, or relative (-10m)', (v) => parseCliTime(v))
      .requiredOption('--to <time>', 'ISO time, Unix seconds, "now", or relative', (v) => parseCliTime(v))
      .option('--name <playlist>', 'VOD playlist name', 'vod.m3u8'),
  ).action(async (bucket: string, name: string, opts: CommonOptions & { from: number; to: number; name: string }) => {
    const c = client(bucket, opts);
    await c.createVod(name, opts.name, { startTime: opts.from, endTime: opts.to });
    const key = `${name}/${opts.name}`;
    print(opts.json, { bucket, key, startTime: opts.from, endTime: opts.to }, () => `wrote ${bucket}/${key} (${new Date(opts.from * 1000).toISOString()} to ${new Date(opts.to * 1000).toISOString()})`);
  });

  return channel;
}

class ApiUnreachable extends Error {}

/** The client, whose failures to reach the API say where the address came from. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function withReachHint(client: any, target: ApiTarget): any {
  return new Proxy(client, {
    get(obj, prop) {
      const value = obj[prop];
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        Promise.resolve(value.apply(obj, args)).catch((err: unknown) => {
          const unreachable = describeApiError(err);
          throw unreachable?.startsWith('cannot reach') ? new ApiUnreachable(`${unreachable}\n  ${unreachableHint(target)}`) : err;
        });
    },
  });
}

/**
 * The URLs a user can use as printed: on a bucket that needs signed pushes (any but
 * public-read-write) the publish URL signed, on a private one the play URL signed (hls/sign),
 * with their expiry. When the bucket's ACL cannot be read, the unsigned URLs and the commands
 * that sign them.
 */
async function usableUrls(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  c: any,
  target: ApiTarget,
  bucket: string,
  channel: string,
  playlistName: string,
  publishUrl: string,
  playUrl: string,
  validFor: number,
): Promise<{ lines: string[]; json: Record<string, string> }> {
  let acl: string | undefined;
  try {
    acl = (await c.getBucketACL(bucket)).acl;
  } catch {
    acl = undefined;
  }
  if (acl === undefined) {
    const flags = target.configFile ? ` -c ${target.configFile}` : '';
    return {
      lines: [`publish: ${publishUrl}`, `play:    ${playUrl}`, `(if ${bucket} is not public, sign them: livechannel sign-url ${bucket} ${channel}${flags}; livechannel play-url ${bucket} ${channel}${flags})`],
      json: {},
    };
  }
  const expires = Math.floor(Date.now() / 1000) + validFor;
  const until = new Date(expires * 1000).toISOString();
  const key = { accessKeyId: target.accessKeyId, accessKeySecret: target.accessKeySecret };
  const json: Record<string, string> = { acl };
  const lines: string[] = [];
  if (acl === 'public-read-write') lines.push(`publish: ${publishUrl}`);
  else {
    json.signedPublishUrl = signPushUrl({ base: publishUrl.replace(/\/live\/[^/]*$/, ''), bucket, channel, ...key, expires });
    lines.push(`publish: ${json.signedPublishUrl}`, `         (signed, valid until ${until})`);
  }
  if (acl === 'private') {
    json.signedPlayUrl = signPlayUrl({ url: playUrl, bucket, objectKey: `${channel}/${playlistName}`, ...key, expires });
    lines.push(`play:    ${json.signedPlayUrl}`, `         (signed, valid until ${until})`);
  } else lines.push(`play:    ${playUrl}`);
  if (json.signedPublishUrl || json.signedPlayUrl) json.expires = until;
  return { lines, json };
}

/** An OSS error as the channel commands print it: code, message, HTTP status. */
export function describeApiError(err: unknown): string | undefined {
  if (err instanceof ApiUnreachable) return err.message;
  const e = err as { code?: string; status?: number; message?: string; name?: string };
  if (typeof e?.status === 'number' && e.status > 0 && typeof e.code === 'string') return `${e.code}: ${e.message?.split('\n')[0]} (HTTP ${e.status})`;
  // ali-oss appends the request and its agent's state to the socket error: keep the error
  if (e?.name === 'RequestError' || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|ECONNRESET/.test(e?.message ?? '')) return `cannot reach the API: ${e.message!.split(/, (?:GET|PUT|POST|DELETE|HEAD) /)[0]}`;
  return undefined;
}
