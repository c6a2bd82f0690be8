import { describe, expect, it } from 'vitest';
import { OssError } from './errors.js';
import { resolveBucket } from './resolve-bucket.js';

const opts = { buckets: new Set(['media', 'demo']), defaultBucket: 'demo', publicHost: 'live.example.com' };

describe('resolveBucket', () => {
  it('takes the bucket from a virtual-hosted Host header', () => {
    expect(resolveBucket(opts, 'media.live.example.com', '/ch/playlist.m3u8')).toEqual({ bucket: 'media', key: 'ch/playlist.m3u8', style: 'virtual-host' });
    expect(resolveBucket(opts, 'media.live.example.com:8080', '/')).toEqual({ bucket: 'media', key: '', style: 'virtual-host' });
  });

  it('understands ali-oss against an IP endpoint (Host "<bucket>.oss-<region>.aliyuncs.com")', () => {
    expect(resolveBucket(opts, 'media.oss-cn-hangzhou.aliyuncs.com', '/my chan')).toMatchObject({ bucket: 'media', key: 'my chan' });
    // with sldEnable the bucket is in the path too
    expect(resolveBucket(opts, 'media.oss-cn-hangzhou.aliyuncs.com', '/media/ch')).toEqual({ bucket: 'media', key: 'ch', style: 'path' });
  });

  it('uses path-style for IP, localhost and other hosts', () => {
    expect(resolveBucket(opts, '127.0.0.1:8080', '/media/ch/p.m3u8')).toEqual({ bucket: 'media', key: 'ch/p.m3u8', style: 'path' });
    expect(resolveBucket(opts, 'localhost', '/media/')).toEqual({ bucket: 'media', key: '', style: 'path' });
    expect(resolveBucket(opts, '[::1]:8080', '/media')).toEqual({ bucket: 'media', key: '', style: 'path' });
  });

  it('falls back to the default bucket when neither names one', () => {
    expect(resolveBucket(opts, '127.0.0.1', '/ch?x')).toEqual({ bucket: 'demo', key: 'ch?x', style: 'default' });
    expect(resolveBucket(opts, 'gateway.internal', '/ch')).toEqual({ bucket: 'demo', key: 'ch', style: 'default' });
    expect(resolveBucket(opts, undefined, '/')).toEqual({ bucket: 'demo', key: '', style: 'default' });
  });

  it('refuses a Host that names an unknown bucket', () => {
    for (const host of ['nope.live.example.com', 'nope.oss-cn-beijing.aliyuncs.com']) {
      expect(() => resolveBucket(opts, host, '/ch')).toThrow(OssError);
    }
  });
});
