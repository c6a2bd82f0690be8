import { readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixture } from '../scripts/lib/fixtures.js';
import { signPushUrl } from '../src/auth/push-url.js';
import { connect } from 'node:net';
import { c0c1, publishCommands, ServerMessages } from '../scripts/lib/rtmp-wire.js';
import { eventually, ffmpegPush } from './support/ffmpeg-push.js';
import { KEY, OTHER_KEY, ossError, startTestApp, type TestApp } from './support/test-app.js';

// KEY may only use bucket "media"; OTHER_KEY may use every bucket.
let t: TestApp;
let main: string;
beforeAll(async () => {
  t = await startTestApp({ credentials: [{ ...KEY, buckets: ['media'] }, OTHER_KEY] });
  main = await fixture('main.flv');
  await t.client('media').putChannel('ch', { Target: { Type: 'HLS' } });
  await t.client('pub', OTHER_KEY).putChannel('ch', { Target: { Type: 'HLS' } });
});
afterAll(() => t.close());

const rtmpBase = () => `rtmp://127.0.0.1:${t.app.rtmpPort()}`;
const push = async (url: string, bucket: string) => {
  const p = ffmpegPush(url, main, { realtime: false, tcUrl: `rtmp://${bucket}.live.test:${t.app.rtmpPort()}/live` });
  const code = await p.exited;
  return { code, stderr: p.stderr() };
};

function allFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? allFiles(join(dir, e.name)) : [join(dir, e.name)]));
}

describe('tenant isolation', () => {
  it("refuses API requests with a key limited to another bucket", async () => {
    const e = await ossError(t.client('pub', KEY).getChannel('ch'));
    expect([e.status, e.code]).toEqual([403, 'AccessDenied']);
    expect(e.message).toContain('has no rights on bucket "pub"');
    expect((await t.client('media', KEY).getChannel('ch')).res.status).toBe(200);
  });

  it('refuses a push to bucket A with a key limited to bucket B', async () => {
    const url = signPushUrl({ base: rtmpBase(), bucket: 'pub', channel: 'ch', ...KEY, expires: Math.floor(Date.now() / 1000) + 600 });
    const r = await push(url, 'pub');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`Server error: The OSSAccessKeyId "${KEY.accessKeyId}" has no rights on bucket "pub".`);
  });

  it('refuses a push URL signed for bucket B replayed against bucket A', async () => {
    const url = signPushUrl({ base: rtmpBase(), bucket: 'pub', channel: 'ch', ...OTHER_KEY, expires: Math.floor(Date.now() / 1000) + 600 });
    const r = await push(url, 'media');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('Server error: The push URL signature does not match');
  });
});

describe('hostile channel names over RTMP', () => {
  it.each([
    ['..%2F..%2Fescape', /Invalid live channel name: The live channel name must not contain "\/"/],
    ['%2E%2E', /Invalid live channel name: ".." is not a valid live channel name/],
    ['a%00b', /Invalid live channel name: The live channel name must not contain control characters/],
    // not an escape: read literally (an OBS-decoded key may hold a bare "%"), and no such channel
    ['%E0%A4%A', /No live channel "%E0%A4%A"/],
  ])('refuses %s and writes nothing outside the bucket', async (name, reason) => {
    const before = allFiles(t.dataDir).map((f) => relative(t.dataDir, f)).sort();
    const url = signPushUrl({ base: rtmpBase(), bucket: 'media', channel: decodeURIComponentSafe(name), ...KEY, expires: Math.floor(Date.now() / 1000) + 600 });
    const raw = url.replace(/\/live\/[^?]+/, `/live/${name}`);
    const r = await push(raw, 'media');
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(reason);
    const after = allFiles(t.dataDir).map((f) => relative(t.dataDir, f)).sort();
    const added = after.filter((f) => !before.includes(f) && !f.startsWith('catalog.db'));
    expect(added).toEqual([]);
  });
});

describe('a 2000-byte channel name (ffmpeg truncates such names, so a hand-made publisher sends it)', () => {
  it('is refused with the length rule', async () => {
    const name = 'x'.repeat(2000);
    const url = new URL(signPushUrl({ base: rtmpBase(), bucket: 'media', channel: name, ...KEY, expires: Math.floor(Date.now() / 1000) + 600 }));
    const socket = connect(t.app.rtmpPort(), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.write(c0c1());
    await eventually(() => (Buffer.concat(chunks).length >= 3073 ? true : undefined), 5000, 'handshake');
    socket.write(Buffer.concat([Buffer.concat(chunks).subarray(1, 1537), publishCommands(`rtmp://media.live.test/live`, `${name}${url.search}`)]));
    await closed;
    const server = new ServerMessages();
    server.feed(Buffer.concat(chunks).subarray(3073));
    expect(server.statuses()).toEqual([
      { code: 'NetStream.Publish.BadName', description: 'Invalid live channel name: The live channel name must be at most 1023 bytes.' },
    ]);
  });
});

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
