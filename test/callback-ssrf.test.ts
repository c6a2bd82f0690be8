import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/test-app.js';

// An upload callback's URL is chosen by whoever uploads: it must not reach what sits next to
// the gateway. A real HTTP server on loopback stands in for an internal admin service.
const SECRET = '{"internal":"admin secret 7f3a"}';

interface Internal {
  server: Server;
  port: number;
  requests: number;
}

async function internalService(): Promise<Internal> {
  const state = { requests: 0 } as Internal;
  state.server = createServer((req, res) => {
    state.requests++;
    req.resume();
    res.writeHead(200, { 'content-type': 'application/json' }).end(SECRET);
  });
  await new Promise<void>((resolve) => state.server.listen(0, '::', resolve));
  state.port = (state.server.address() as AddressInfo).port;
  return state;
}

const callbackHeader = (url: string) =>
  Buffer.from(JSON.stringify({ callbackUrl: url, callbackBody: 'object=${object}' })).toString('base64');

/** An anonymous PutObject with a callback into the public-read-write bucket. */
async function anonymousPut(t: TestApp, key: string, callbackUrl: string) {
  const res = await fetch(`${t.endpoint}/open/${key}`, { method: 'PUT', headers: { 'x-oss-callback': callbackHeader(callbackUrl) }, body: 'payload' });
  return { status: res.status, body: await res.text() };
}

async function refusedCount(t: TestApp): Promise<number> {
  const text = await (await fetch(`${t.endpoint}/metrics`)).text();
  return [...text.matchAll(/^livechannel_upload_callbacks_refused_total\{[^}]*\} (\d+)/gm)].reduce((sum, m) => sum + Number(m[1]), 0);
}

describe('upload callbacks cannot reach internal addresses', () => {
  let internal: Internal;
  let t: TestApp;
  beforeAll(async () => {
    internal = await internalService();
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
    internal.server.close();
  });

  const spellings = (port: number) => [
    `http://127.0.0.1:${port}/admin/secret`,
    `http://localhost:${port}/admin/secret`,
    `http://127.1:${port}/admin/secret`,
    `http://2130706433:${port}/admin/secret`,
    `http://[::ffff:127.0.0.1]:${port}/admin/secret`,
    `http://0177.0.0.1:${port}/admin/secret`,
    `http://0x7f.0.0.1:${port}/admin/secret`,
    `http://[::1]:${port}/admin/secret`,
    `http://localhost.:${port}/admin/secret`,
    `${'127.0.0.1'}:${port}/no-scheme`,
  ];

  it('refuses every spelling of loopback with 400 before storing; the internal server hears nothing', async () => {
    const before = await refusedCount(t);
    const urls = spellings(internal.port);
    for (const [i, url] of urls.entries()) {
      const res = await anonymousPut(t, `ssrf/${i}.txt`, url);
      expect(res.status, url).toBe(400);
      expect(res.body, url).toContain('<Code>InvalidArgument</Code>');
      expect(res.body, url).toContain('not allowed');
      expect(res.body, url).not.toContain('admin secret');
      // nothing resolved is echoed (HostId is the gateway's own host, as in every error)
      expect(/<Message>(.*)<\/Message>/.exec(res.body)?.[1], url).not.toMatch(/127|::1|localhost/);
      expect(await t.app.storeFor('open').head(`ssrf/${i}.txt`), url).toBeUndefined();
    }
    expect(internal.requests).toBe(0);
    expect((await refusedCount(t)) - before).toBe(urls.length);
  });

  it('counts refusals by reason', async () => {
    const text = await (await fetch(`${t.endpoint}/metrics`)).text();
    expect(text).toMatch(/livechannel_upload_callbacks_refused_total\{reason="loopback"\} [1-9]/);
  });
});

describe('events.callbackAllow', () => {
  let internal: Internal;
  let t: TestApp;
  beforeAll(async () => {
    internal = await internalService();
    t = await startTestApp({ events: { callbackAllow: ['127.0.0.0/8'] } });
  });
  afterAll(async () => {
    await t.close();
    internal.server.close();
  });

  it("lets the operator's own callback server answer, as OSS would", async () => {
    const client = t.client('media');
    const res = await client.put('allowed.txt', Buffer.from('x'), { callback: { url: `http://127.0.0.1:${internal.port}/hook`, body: 'object=${object}' } });
    expect(res.data).toEqual(JSON.parse(SECRET));
    expect(internal.requests).toBe(1);
  });

  it('still refuses what the list does not name (IPv6 loopback)', async () => {
    const res = await anonymousPut(t, 'allow/v6.txt', `http://[::1]:${internal.port}/admin`);
    expect(res.status).toBe(400);
    expect(internal.requests).toBe(1);
  });

  it('allows by host name', async () => {
    const byName = await startTestApp({ events: { callbackAllow: ['localhost'] } });
    try {
      const res = await byName.client('media').put('named.txt', Buffer.from('x'), { callback: { url: `http://localhost:${internal.port}/hook`, body: 'object=${object}' } });
      expect(res.data).toEqual(JSON.parse(SECRET));
    } finally {
      await byName.close();
    }
  });
});
