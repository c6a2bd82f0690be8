/** Seeded fuzzing of the RTMP port and the HTTP API (used by the test suite and `npm run fuzz`). */
import { connect } from 'node:net';
import { canonicalizedResource, hmacSha1, stringToSign } from '../../src/auth/oss-signature.js';
import { c0c1, command, message, publishCommands } from './rtmp-wire.js';

export type Rand = () => number;

export function mulberry32(seed: number): Rand {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(rand: Rand, xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
const bytes = (rand: Rand, n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(rand() * 256)));

/** Flips, deletes, duplicates and inserts bytes. */
export function mutate(rand: Rand, input: Buffer, edits = 1 + Math.floor(rand() * 8)): Buffer {
  let b = Buffer.from(input);
  for (let i = 0; i < edits && b.length > 0; i++) {
    const at = Math.floor(rand() * b.length);
    switch (Math.floor(rand() * 5)) {
      case 0:
        b[at] = Math.floor(rand() * 256);
        break;
      case 1:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + Math.floor(rand() * 16))]);
        break;
      case 2:
        b = Buffer.concat([b.subarray(0, at), b.subarray(at, at + 32), b.subarray(at)]);
        break;
      case 3:
        b = Buffer.concat([b.subarray(0, at), bytes(rand, 1 + Math.floor(rand() * 64)), b.subarray(at)]);
        break;
      default:
        b[at] = pick(rand, [0, 0xff, 0x7f, 0x80, 3, 0x47]);
    }
  }
  return b;
}

/** A plausible publisher byte stream: handshake, commands, media, AMF garbage. */
function rtmpCase(rand: Rand, media: readonly Buffer[]): Buffer {
  const hs = Buffer.concat([c0c1(), Buffer.alloc(1536)]);
  const cmds = publishCommands('rtmp://open.live.test/live', `fuzz${Math.floor(rand() * 4)}`);
  const someMedia = Buffer.concat(Array.from({ length: 1 + Math.floor(rand() * 20) }, () => pick(rand, media)));
  switch (Math.floor(rand() * 7)) {
    case 0:
      return bytes(rand, Math.floor(rand() * 4000)); // noise
    case 1:
      return mutate(rand, hs); // broken handshake
    case 2:
      return Buffer.concat([hs, mutate(rand, cmds)]); // broken commands / AMF
    case 3:
      return Buffer.concat([hs, cmds, mutate(rand, someMedia, 1 + Math.floor(rand() * 40))]); // broken chunks and FLV payloads
    case 4:
      return Buffer.concat([hs, command({ cmd: pick(rand, ['connect', 'publish', 'play', 'deleteStream', 'createStream', '@setDataFrame']), transId: rand() * 1e9, cmdObj: pick(rand, [null, {}, { app: 'live', tcUrl: '::::' }, { app: 'x'.repeat(5000) }]), streamName: pick(rand, ['', '..', 'a/b', '\u0000', 'x?Signature=&&&']) })]);
    case 5:
      return Buffer.concat([hs, message({ cid: 2 + Math.floor(rand() * 400), type: Math.floor(rand() * 32), streamId: Math.floor(rand() * 4), payload: bytes(rand, Math.floor(rand() * 3000)), timestamp: Math.floor(rand() * 2 ** 32) })]);
    default:
      return Buffer.concat([hs, cmds, someMedia]).subarray(0, Math.floor(rand() * (hs.length + cmds.length + someMedia.length))); // truncated
  }
}

export interface RtmpFuzzResult {
  cases: number;
  /** Sockets the server still held open 5 s after we closed our side. */
  lingering: number;
}

/** Sends `cases` fuzzed streams (in random pieces), `parallel` at a time. */
export async function fuzzRtmp(port: number, rand: Rand, cases: number, media: readonly Buffer[], parallel = 8): Promise<RtmpFuzzResult> {
  const result: RtmpFuzzResult = { cases: 0, lingering: 0 };
  const one = (payload: Buffer) =>
    new Promise<void>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let done = false;
      const finish = (lingered: boolean) => {
        if (done) return;
        done = true;
        if (lingered) result.lingering++;
        socket.destroy();
        resolve();
      };
      socket.on('error', () => finish(false));
      socket.on('close', () => finish(false));
      socket.on('data', () => {});
      socket.on('connect', async () => {
        for (let o = 0; o < payload.length; ) {
          const n = 1 + Math.floor(rand() * 2000);
          if (socket.destroyed) return;
          socket.write(payload.subarray(o, o + n));
          o += n;
        }
        socket.end();
        setTimeout(() => finish(true), 5000).unref();
      });
    });
  const queue = Array.from({ length: cases }, () => rtmpCase(rand, media));
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let p = queue.shift(); p; p = queue.shift()) {
        await one(p);
        result.cases++;
      }
    }),
  );
  return result;
}

export interface ApiFuzzResult {
  requests: number;
  statuses: Record<string, number>;
  /** Answers that were 5xx, or not an OSS error document when failing. */
  problems: string[];
}

const GOOD_XML = '<?xml version="1.0" encoding="UTF-8"?><LiveChannelConfiguration><Description>d</Description><Status>enabled</Status><Target><Type>HLS</Type><FragDuration>2</FragDuration><FragCount>3</FragCount><PlaylistName>p.m3u8</PlaylistName></Target></LiveChannelConfiguration>';

/** Callback URLs that point inside the gateway's network, in many spellings, at `port`. */
export function hostileCallbackUrls(port: number): string[] {
  return [
    `http://127.0.0.1:${port}/admin`,
    `http://localhost:${port}/admin`,
    `http://127.1:${port}/admin`,
    `http://2130706433:${port}/admin`,
    `http://0x7f000001:${port}/admin`,
    `http://0177.0.0.01:${port}/admin`,
    `http://[::1]:${port}/admin`,
    `http://[::ffff:127.0.0.1]:${port}/admin`,
    `http://[::ffff:7f00:1]:${port}/admin`,
    `http://[0:0:0:0:0:0:0:1]:${port}/admin`,
    `http://localhost.:${port}/admin`,
    `http://LOCALHOST:${port}/admin`,
    `127.0.0.1:${port}/admin`,
    `http://0.0.0.0:${port}/admin`,
    `http://user:pass@127.0.0.1:${port}/admin`,
    `https://127.0.0.1:${port}/admin`,
    `http://example.invalid/;http://127.0.0.1:${port}/admin`,
  ];
}

function hostileCallbackHeader(rand: Rand, trapPort: number): string {
  const url = pick(rand, hostileCallbackUrls(trapPort));
  const config = { callbackUrl: url, callbackBody: pick(rand, ['object=${object}', '{"o":${object}}', '']), callbackBodyType: pick(rand, ['application/json', 'application/x-www-form-urlencoded', 'text/x']) };
  return Buffer.from(JSON.stringify(config)).toString('base64');
}

/**
 * Mutated XML bodies, headers, signatures, paths and methods against the API. With
 * `callbackTrapPort`, some requests carry upload callbacks aimed at that loopback port: none
 * may be answered 200 or 203 (the caller checks the trap heard nothing).
 */
export async function fuzzApi(endpoint: string, rand: Rand, requests: number, key: { accessKeyId: string; accessKeySecret: string }, callbackTrapPort?: number): Promise<ApiFuzzResult> {
  const result: ApiFuzzResult = { requests: 0, statuses: {}, problems: [] };
  for (let i = 0; i < requests; i++) {
    const method = pick(rand, ['GET', 'PUT', 'POST', 'DELETE', 'HEAD', 'PATCH', 'OPTIONS']);
    const channel = pick(rand, ['fz', 'fz%20x', '%2E%2E', 'a%2Fb', '%00', 'x'.repeat(1100), '%E0%A4%A', 'ü']);
    const query = pick(rand, ['live', 'live&status=disabled', 'live&comp=stat', 'live&comp=history', 'vod&startTime=1&endTime=9', 'live&max-keys=-1', 'acl', '', 'x-oss-process=hls/sign', 'delete']);
    const bucket = pick(rand, ['media', 'open', 'nope', '']);
    const path = `/${bucket}/${rand() < 0.2 ? '' : channel}${rand() < 0.3 ? '/p.m3u8' : ''}`;
    const body = rand() < 0.5 ? mutate(rand, Buffer.from(GOOD_XML), Math.floor(rand() * 12)) : rand() < 0.5 ? Buffer.from(GOOD_XML) : bytes(rand, Math.floor(rand() * 500));
    const headers: Record<string, string> = {};
    const date = pick(rand, [new Date().toUTCString(), 'yesterday', '', new Date(0).toUTCString()]);
    if (date) headers.date = date;
    const hostileCallback = callbackTrapPort !== undefined && rand() < 0.2;
    if (hostileCallback) headers['x-oss-callback'] = hostileCallbackHeader(rand, callbackTrapPort);
    const sign = rand();
    if (sign < 0.4) {
      const { parseRequestUrl } = await import('../../src/http/oss-request.js');
      let parsed: ReturnType<typeof parseRequestUrl> | undefined;
      try {
        parsed = parseRequestUrl(`${path}?${query}`);
      } catch {
        parsed = undefined;
      }
      if (parsed) {
        const [, b, ...rest] = parsed.path.split('/');
        const s = stringToSign({ method, contentMd5: '', contentType: '', date, ossHeaders: hostileCallback ? `x-oss-callback:${headers['x-oss-callback']}\n` : '', resource: canonicalizedResource(b, rest.join('/'), parsed.query) });
        headers.authorization = `OSS ${key.accessKeyId}:${hmacSha1(key.accessKeySecret, s)}`;
      }
    } else if (sign < 0.7) {
      headers.authorization = pick(rand, ['OSS', 'OSS a:b', `OSS ${key.accessKeyId}:${bytes(rand, 20).toString('base64')}`, 'Bearer x', 'OSS4-HMAC-SHA256 x', '\u00ff\u00fe']);
    }
    if (rand() < 0.2) headers['content-md5'] = pick(rand, ['', 'abc', bytes(rand, 16).toString('base64')]);
    try {
      const res = await fetch(`${endpoint}${path}?${query}`, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : new Uint8Array(body) });
      const text = await res.text();
      result.statuses[res.status] = (result.statuses[res.status] ?? 0) + 1;
      if (res.status >= 500 && !(res.status === 501 || res.status === 503)) result.problems.push(`${method} ${path}?${query} → ${res.status} ${text.slice(0, 200)}`);
      if (res.status >= 400 && method !== 'HEAD' && !text.includes('<Error>')) result.problems.push(`${method} ${path}?${query} → ${res.status} without an OSS error body`);
      if (hostileCallback && method === 'PUT' && (res.status === 200 || res.status === 203) && !query.includes('live')) result.problems.push(`${method} ${path}?${query} with a hostile callback → ${res.status}`);
    } catch (err) {
      result.problems.push(`${method} ${path}?${query} → request failed: ${(err as Error).message}`);
    }
    result.requests++;
  }
  return result;
}

/**
 * Random datagrams and mutated SRT handshakes (inductions, conclusions with forged cookies,
 * truncated ones) at an SRT port: the listener must keep no state for them and stay up.
 */
export async function fuzzSrt(port: number, rand: Rand, datagrams: number): Promise<number> {
  const { createSocket } = await import('node:dgram');
  const { controlPacket, handshakeBody, CTRL_HANDSHAKE, HS_CONCLUSION, HS_INDUCTION } = await import('../../src/srt/srt-packets.js');
  const socket = createSocket('udp4');
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  for (let i = 0; i < datagrams; i++) {
    const kind = rand();
    let d: Uint8Array;
    if (kind < 0.3) d = bytes(rand, Math.floor(rand() * 1500));
    else {
      const hs = handshakeBody({
        version: rand() < 0.5 ? 5 : Math.floor(rand() * 8),
        encryption: Math.floor(rand() * 5),
        extension: Math.floor(rand() * 0x10000),
        initialSeq: Math.floor(rand() * 2 ** 31),
        mtu: Math.floor(rand() * 70000),
        flowWindow: Math.floor(rand() * 100000),
        type: rand() < 0.5 ? HS_CONCLUSION : HS_INDUCTION,
        socketId: Math.floor(rand() * 2 ** 32),
        cookie: Math.floor(rand() * 2 ** 32),
        peerIp: bytes(rand, 16),
        extensions: rand() < 0.5 ? [{ type: Math.floor(rand() * 10), data: bytes(rand, 4 * Math.floor(rand() * 20)) }] : [],
      });
      d = mutate(rand, Buffer.from(controlPacket(CTRL_HANDSHAKE, 0, 0, rand() < 0.8 ? 0 : Math.floor(rand() * 2 ** 32), hs)), Math.floor(rand() * 4));
      if (rand() < 0.2) d = d.subarray(0, Math.floor(rand() * d.length));
    }
    socket.send(d, port, '127.0.0.1');
    if (i % 200 === 0) await new Promise((r) => setImmediate(r));
  }
  await new Promise((r) => setTimeout(r, 100));
  socket.close();
  return datagrams;
}
