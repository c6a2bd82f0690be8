import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { c0c1, message, publishCommands } from '../scripts/lib/rtmp-wire.js';
import { eventually } from './support/ffmpeg-push.js';
import { OTHER_KEY, startTestApp, type TestApp } from './support/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp({
    limits: {
      rtmpMaxConnectionsPerIp: 3,
      rtmpPublishTimeoutMs: 500,
      rtmpIdleMediaTimeoutMs: 1000,
      rtmpMaxMessageBytes: 64 * 1024,
      httpMaxBodyBytes: 64 * 1024,
    },
  });
});
afterAll(() => t.close());

function open(): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(t.app.rtmpPort(), '127.0.0.1');
    const chunks: Buffer[] = [];
    const opened = Date.now();
    socket.on('data', (c) => chunks.push(c));
    const closed = new Promise<number>((r) => socket.on('close', () => r(Date.now() - opened)));
    socket.on('error', () => {});
    socket.on('connect', () => resolve({ socket, received: () => Buffer.concat(chunks), closed }));
    socket.on('error', reject);
  });
}

async function handshake(socket: Socket, received: () => Buffer): Promise<void> {
  socket.write(c0c1());
  await eventually(() => (received().length >= 3073 ? true : undefined), 5000, 'handshake');
  socket.write(received().subarray(1, 1537));
}

const limitHits = async (limit: string) => {
  const text = await t.app.metrics.registry.getSingleMetricAsString('livechannel_limit_hits_total');
  return Number(new RegExp(`limit="${limit}"} (\\d+)`).exec(text)?.[1] ?? 0);
};

describe('limits', () => {
  it('refuses connections past the per-IP limit', async () => {
    const kept = await Promise.all([open(), open(), open()]);
    const fourth = await open();
    await fourth.closed;
    expect(fourth.received().length).toBe(0);
    expect(await limitHits('rtmp_connections_per_ip')).toBeGreaterThanOrEqual(1);
    for (const k of kept) k.socket.destroy();
    await Promise.all(kept.map((k) => k.closed));
  });

  it('closes a connection that does not publish in time', async () => {
    const c = await open();
    await handshake(c.socket, c.received);
    expect(await c.closed).toBeLessThan(2000);
    expect(await limitHits('rtmp_publish_timeout')).toBeGreaterThanOrEqual(1);
  });

  it('lets go of a publisher that stops sending media, closing its push', async () => {
    await t.client('open').putChannel('quiet', { Target: { Type: 'HLS' } });
    const c = await open();
    await handshake(c.socket, c.received);
    c.socket.write(publishCommands(`rtmp://open.live.test/live`, 'quiet'));
    await eventually(async () => ((await t.client('open').getChannelStatus('quiet')).data.Status === 'Live' ? true : undefined), 5000);
    // then silence
    await c.closed;
    await eventually(async () => ((await t.client('open').getChannelStatus('quiet')).data.Status === 'Idle' ? true : undefined), 5000);
    expect((await t.client('open').getChannelHistory('quiet')).records[0].EndTime).toBeDefined();
    expect(await limitHits('rtmp_idle_media')).toBeGreaterThanOrEqual(1);
  });

  it('closes a connection that sends a message over the size limit', async () => {
    const c = await open();
    await handshake(c.socket, c.received);
    c.socket.write(message({ cid: 6, type: 9, streamId: 1, payload: Buffer.alloc(100 * 1024) }));
    await c.closed;
    expect(await limitHits('rtmp_protocol')).toBeGreaterThanOrEqual(1);
  });

  it('refuses HTTP bodies over the limit', async () => {
    const res = await t.app.http.inject({ method: 'PUT', url: '/open/big.bin', payload: Buffer.alloc(100 * 1024) });
    expect(res.statusCode).toBe(400);
    expect(res.body).toContain('<Code>EntityTooLarge</Code>');
  });

  it('slows down a key that makes too many API requests (503 SlowDown)', async () => {
    const slow = await startTestApp({ limits: { apiRequestsPerSecond: 1, apiBurst: 3 } });
    const c = slow.client('media');
    const results: { status?: number; code?: string }[] = [];
    for (let i = 0; i < 6; i++) {
      results.push(await c.listChannels({}).then((r: { res: { status: number } }) => ({ status: r.res.status }), (e: { status: number; code: string }) => e));
    }
    expect(results.filter((r) => r.status === 200).length).toBeLessThanOrEqual(4);
    expect(results.some((r) => r.status === 503 && r.code === 'SlowDown')).toBe(true);
    expect(await slow.app.metrics.registry.getSingleMetricAsString('livechannel_limit_hits_total')).toMatch(/limit="api_rate"} [1-9]/);
    // another key is not slowed by the first one's excess
    expect((await slow.client('media', OTHER_KEY).listChannels({})).res.status).toBe(200);
    await slow.close();
  });
});

describe('operations endpoints', () => {
  it('answers /healthz, /readyz and /metrics', async () => {
    expect(await (await fetch(`${t.endpoint}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${t.endpoint}/readyz`)).json()).toEqual({ status: 'ready' });
    await fetch(`${t.endpoint}/pub/nothing-here?live`);
    const metrics = await (await fetch(`${t.endpoint}/metrics`)).text();
    for (const name of [
      'livechannel_publishers_live',
      'livechannel_ingest_bytes_total',
      'livechannel_segments_written_total',
      'livechannel_segments_dropped_total',
      'livechannel_storage_write_seconds',
      'livechannel_publish_rejections_total',
      'livechannel_limit_hits_total',
      'process_resident_memory_bytes',
    ]) {
      expect(metrics, name).toContain(name);
    }
    expect(metrics).toMatch(/livechannel_api_requests_total\{op="GetLiveChannelInfo",status="404"\} [1-9]/);
  });
});
