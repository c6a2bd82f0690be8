import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { mulberry32 } from '../scripts/lib/fuzz.js';
import { conclusionRequest, inductionRequest } from '../scripts/lib/srt-load.js';
import { signPushUrl } from '../src/auth/push-url.js';
import { ffmpegPath } from '../src/ffmpeg-path.js';
import {
  CTRL_HANDSHAKE,
  HS_CONCLUSION,
  HS_INDUCTION,
  controlPacket,
  handshakeBody,
  parseHandshake,
  parsePacket,
} from '../src/srt/srt-packets.js';
import { eventually } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

// The SRT port on the wire: the reject code a caller gets for each refusal (read from the
// handshake itself, as libsrt's srt_getrejectreason reports it), garbage and forged handshakes,
// and a lossy, slow link between ffmpeg and the gateway.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({ defaultBucket: 'media', srt: { port: 0, latencyMs: 400 } });
  for (const name of ['wire', 'wire-off', 'lossy']) await t.client('media').putChannel(name, { Status: name === 'wire-off' ? 'disabled' : 'enabled', Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
}, 60_000);
afterAll(() => t?.close());

const sid = (channel: string, secret = KEY.accessKeySecret) =>
  signPushUrl({ base: 'rtmp://h', bucket: 'media', channel, accessKeyId: KEY.accessKeyId, accessKeySecret: secret, expires: Math.floor(Date.now() / 1000) + 3600 }).slice('rtmp://h/'.length);

/** A minimal SRT caller: induction, then a conclusion with HSREQ and the stream id; resolves with the answer's handshake type. */
async function handshakeType(streamId: string): Promise<number> {
  const socket = createSocket('udp4');
  const port = t.app.srtPort()!;
  const answers: Buffer[] = [];
  socket.on('message', (m) => answers.push(m));
  await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
  // sent again every 250 ms until answered, as libsrt does (a datagram may be lost)
  const ask = async (packet: Uint8Array) => {
    answers.length = 0;
    const again = setInterval(() => socket.send(packet, port, '127.0.0.1'), 250);
    socket.send(packet, port, '127.0.0.1');
    try {
      const got = await eventually((): Buffer | undefined => answers.shift(), 5000, 'an answer');
      const p = parsePacket(got);
      if (!p?.control) throw new Error('not a control packet');
      return parseHandshake(p.body)!;
    } finally {
      clearInterval(again);
    }
  };
  const caller = { socketId: 4242, initialSeq: 1000 };
  const induction = await ask(inductionRequest(caller));
  expect(induction.extension).toBe(0x4a17);
  const conclusion = await ask(conclusionRequest({ ...caller, cookie: induction.cookie, streamId, flags: 0xbf }));
  socket.close();
  return conclusion.type >>> 0;
}

describe('the SRT port on the wire', () => {
  it.each([
    ['a bad signature', (): string => sid('wire', 'wrong'), 1403],
    ['an unknown channel', (): string => sid('nope'), 1404],
    ['a disabled channel', (): string => sid('wire-off'), 1403],
    ['a play request', (): string => '#!::r=live/wire,m=request', 1405],
    ['a stream id naming no channel', (): string => 'hello', 1400],
  ] as const)('answers %s with its rejection code', async (_what, streamId, code) => {
    expect(await handshakeType(streamId())).toBe(1000 + code);
  });

  it('accepts the access-control form, and answers with the conclusion', async () => {
    expect(await handshakeType(`#!::r=${sid('wire')},m=publish`)).toBe(0xffffffff);
    // the accepted caller never sends: the gateway lets it go after the peer timeout
    await eventually(() => (t.app.ingest.registry.size === 0 ? true : undefined), 15_000, 'the silent caller let go');
  }, 30_000);

  it('survives random datagrams and forged handshakes, keeping nothing for them', async () => {
    const rand = mulberry32(7);
    const socket: Socket = createSocket('udp4');
    await new Promise<void>((r) => socket.bind(0, '127.0.0.1', r));
    const port = t.app.srtPort()!;
    const heap = process.memoryUsage().heapUsed;
    for (let i = 0; i < 20_000; i++) {
      const kind = rand();
      let d: Uint8Array;
      if (kind < 0.4) d = Uint8Array.from({ length: Math.floor(rand() * 200) }, () => Math.floor(rand() * 256));
      else {
        const hs = handshakeBody({ version: 5, encryption: 0, extension: 5, initialSeq: i, mtu: 1500, flowWindow: 8192, type: kind < 0.7 ? HS_CONCLUSION : HS_INDUCTION, socketId: i, cookie: Math.floor(rand() * 2 ** 32), peerIp: new Uint8Array(16) });
        d = controlPacket(CTRL_HANDSHAKE, 0, 0, kind < 0.9 ? 0 : Math.floor(rand() * 1000), hs);
        if (kind > 0.8) d = d.subarray(0, Math.floor(rand() * d.length));
      }
      socket.send(d, port, '127.0.0.1');
      if (i % 500 === 0) await new Promise((r) => setImmediate(r));
    }
    socket.close();
    expect(await handshakeType(sid('wire'))).toBe(0xffffffff);
    expect((process.memoryUsage().heapUsed - heap) / 1048576).toBeLessThan(50);
  }, 60_000);
});

/** A UDP relay that drops `loss` of the datagrams each way and delays each by `delayMs`. */
async function lossyRelay(target: number, loss: number, delayMs: number) {
  const rand = mulberry32(11);
  const outside = createSocket('udp4');
  const inside = createSocket('udp4');
  let caller: { port: number; address: string } | undefined;
  const stats = { forwarded: 0, dropped: 0 };
  const pass = (send: () => void) => {
    if (rand() < loss) {
      stats.dropped++;
      return;
    }
    stats.forwarded++;
    setTimeout(send, delayMs);
  };
  outside.on('message', (m, r) => {
    caller = { port: r.port, address: r.address };
    pass(() => inside.send(m, target, '127.0.0.1'));
  });
  inside.on('message', (m) => {
    const to = caller;
    if (to) pass(() => outside.send(m, to.port, to.address));
  });
  await new Promise<void>((r) => outside.bind(0, '127.0.0.1', r));
  await new Promise<void>((r) => inside.bind(0, '127.0.0.1', r));
  return { port: outside.address().port, stats, close: () => (outside.close(), inside.close()) };
}

describe('SRT over a lossy link', () => {
  it('recovers 5 % loss each way with 40 ms delay: every segment of a 20 s push arrives and decodes', async () => {
    const relay = await lossyRelay(t.app.srtPort()!, 0.05, 40);
    const query = new URLSearchParams({ streamid: sid('lossy'), latency: '400000' });
    const push = spawn(ffmpegPath(), ['-hide_banner', '-nostdin', '-v', 'error', '-re', '-stream_loop', '-1', '-i', await fixture('main.flv'), '-t', '20', '-c', 'copy', '-f', 'mpegts', `srt://127.0.0.1:${relay.port}?${query}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    push.stderr.on('data', (c) => (err += c));
    expect(await new Promise((r) => push.on('exit', r)), err).toBe(0);
    await eventually(async (): Promise<true | undefined> => ((await t.client('media').getChannelHistory('lossy')).records[0]?.EndTime ? true : undefined), 20_000, 'the push to end');
    relay.close();
    expect(relay.stats.dropped).toBeGreaterThan(100);
    const dir = join(t.dataDir, 'buckets', 'media', 'lossy');
    const segments = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.ts')).sort((a, b) => Number(/\d+/.exec(a)![0]) - Number(/\d+/.exec(b)![0])) : [];
    // 20 s in 2 s segments (the last one shorter)
    expect(segments.length).toBeGreaterThanOrEqual(10);
    for (const s of segments) expect(await ffmpegWarnings(join(dir, s)), s).toBe('');
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(Number(/livechannel_srt_packets_total\{kind="retransmitted"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  }, 90_000);
});
