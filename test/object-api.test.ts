import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ossError, startTestApp, type AliOss, type TestApp } from './support/test-app.js';

let t: TestApp;
let c: AliOss;
beforeAll(async () => {
  t = await startTestApp();
  c = t.client('media');
});
afterAll(() => t.close());

describe('OSS object operations, driven by ali-oss', () => {
  it('puts, heads, gets and deletes objects, with MD5 ETags', async () => {
    const body = Buffer.from('hello segment');
    const put = await c.put('objs/a.ts', body);
    const md5 = `"${createHash('md5').update(body).digest('hex').toUpperCase()}"`;
    expect(put.res.headers.etag).toBe(md5);
    expect((await c.head('objs/a.ts')).res.headers['content-length']).toBe(String(body.length));
    expect((await c.get('objs/a.ts')).content.toString()).toBe('hello segment');
    expect((await c.delete('objs/a.ts')).res.status).toBe(204);
    expect((await ossError(c.get('objs/a.ts'))).code).toBe('NoSuchKey');
    expect((await c.delete('objs/a.ts')).res.status).toBe(204); // deleting nothing is fine, as on OSS
  });

  it('refuses a body whose Content-MD5 does not match (BadDigest) and keeps the old object', async () => {
    await c.put('objs/b.ts', Buffer.from('original'));
    const wrong = createHash('md5').update('something else').digest('base64');
    const e = await ossError(c.put('objs/b.ts', Buffer.from('corrupted'), { headers: { 'Content-MD5': wrong } }));
    expect([e.status, e.code]).toEqual([400, 'BadDigest']);
    expect((await c.get('objs/b.ts')).content.toString()).toBe('original');
  });

  it('lists with prefix, delimiter, marker and max-keys (ListObjects v1)', async () => {
    for (const k of ['ls/a/1.ts', 'ls/a/2.ts', 'ls/b/1.ts', 'ls/c.m3u8', 'ls/d.ts']) await c.put(k, Buffer.from(k));
    const top = await c.list({ prefix: 'ls/', delimiter: '/' }, {});
    expect(top.prefixes).toEqual(['ls/a/', 'ls/b/']);
    expect(top.objects.map((o: { name: string }) => o.name)).toEqual(['ls/c.m3u8', 'ls/d.ts']);
    const page = await c.list({ prefix: 'ls/', 'max-keys': 2 }, {});
    expect(page.objects.map((o: { name: string }) => o.name)).toEqual(['ls/a/1.ts', 'ls/a/2.ts']);
    expect(page.isTruncated).toBe(true);
    const next = await c.list({ prefix: 'ls/', marker: page.nextMarker, 'max-keys': 10 }, {});
    expect(next.objects.map((o: { name: string }) => o.name)).toEqual(['ls/b/1.ts', 'ls/c.m3u8', 'ls/d.ts']);
    expect(next.objects[0]).toMatchObject({ size: 9, type: 'Normal' });
  });

  it('deletes many objects at once (quiet and verbose)', async () => {
    for (const k of ['many/1', 'many/2', 'many/3']) await c.put(k, Buffer.from(k));
    const r = await c.deleteMulti(['many/1', 'many/2'], { quiet: false });
    expect(r.deleted.map((d: { Key: string }) => d.Key)).toEqual(['many/1', 'many/2']);
    await c.deleteMulti(['many/3'], { quiet: true });
    expect((await c.list({ prefix: 'many/' }, {})).objects ?? []).toEqual([]);
  });

  it('refuses a delete list with a <Key> that is not one name as text, and deletes nothing of it', async () => {
    const open = t.client('open');
    await open.put('keep/1', Buffer.from('1'));
    for (const key of ['<Key><a>1</a></Key>', '<Key>keep/1</Key><Key>keep/2</Key>', '<Key></Key>', '']) {
      const body = `<?xml version="1.0" encoding="UTF-8"?><Delete><Quiet>false</Quiet><Object><Key>keep/1</Key></Object><Object>${key}</Object></Delete>`;
      const res = await fetch(`${t.endpoint}/open/?delete`, { method: 'POST', body, headers: { 'content-md5': createHash('md5').update(body).digest('base64') } });
      expect(res.status, key).toBe(400);
      expect(await res.text()).toContain('<Code>MalformedXML</Code>');
    }
    expect((await open.get('keep/1')).content.toString()).toBe('1');
  });

  it('applies the bucket ACL to writes', async () => {
    const anonymousPut = await fetch(`${t.endpoint}/media/anon.ts`, { method: 'PUT', body: 'x' });
    expect(anonymousPut.status).toBe(403);
    const open = await fetch(`${t.endpoint}/open/anon.ts`, { method: 'PUT', body: 'x' });
    expect(open.status).toBe(200);
    expect(await (await fetch(`${t.endpoint}/open/anon.ts`)).text()).toBe('x');
    expect((await fetch(`${t.endpoint}/pub/anon.ts`, { method: 'PUT', body: 'x' })).status).toBe(403);
  });
});

describe('object names the filesystem store cannot hold', () => {
  it('answers 400, not 500, for path conflicts and over-long names, and deletes find nothing', async () => {
    await c.put('flat/a', Buffer.from('file'));
    const under = await ossError(c.put('flat/a/b', Buffer.from('x')));
    expect([under.status, under.code]).toEqual([400, 'InvalidArgument']);
    await c.put('flat/dir/x', Buffer.from('x'));
    const over = await ossError(c.put('flat/dir', Buffer.from('x')));
    expect([over.status, over.code]).toEqual([400, 'InvalidArgument']);
    const long = await ossError(c.put(`flat/${'n'.repeat(300)}`, Buffer.from('x')));
    expect([long.status, long.code]).toEqual([400, 'InvalidArgument']);
    expect((await c.delete('flat/dir')).res.status).toBe(204);
    expect((await c.delete('flat/a/b')).res.status).toBe(204);
    expect((await c.get('flat/dir/x')).content.toString()).toBe('x');
  });
});
