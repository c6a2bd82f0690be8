import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OssObjectStore } from '../src/storage/oss-store.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

// Retention on the oss backend deletes with DeleteMultipleObjects: against a gateway as OSS.
let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t.close());

describe('OssObjectStore.deleteMany', () => {
  it('deletes more keys than one DeleteMultipleObjects request takes (1000), and nothing else', async () => {
    const store = new OssObjectStore({ endpoint: t.endpoint, bucket: 'media', accessKeyId: KEY.accessKeyId, accessKeySecret: KEY.accessKeySecret, prefix: 'relay/' });
    const keys = Array.from({ length: 1005 }, (_, i) => `ch/p${i}.ts`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.put(k, 'x')));
    await store.put('ch/playlist.m3u8', '#EXTM3U\n');
    await store.deleteMany(keys);
    const left = await t.app.storeFor('media').list({ prefix: 'relay/', marker: '', maxKeys: 2000, delimiter: '' });
    expect(left.objects.map((o) => o.key)).toEqual(['relay/ch/playlist.m3u8']);
  }, 60_000);
});
