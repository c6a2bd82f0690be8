import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { obsFields, signPushUrl } from '../src/auth/push-url.js';
import { eventually } from './support/ffmpeg-push.js';
import { ffmpegWarnings } from './support/media-tools.js';
import { startObs, type ObsProcess } from './support/obs.js';
import { makeCa, makeServerCert } from './support/test-ca.js';
import { KEY, startTestApp, type TestApp } from './support/test-app.js';

// OBS Studio (Debian's, headless) over rtmps://. OBS checks the server's certificate against
// the system CA store, so the test CA goes into it for this test (update-ca-certificates, as
// root, as CI runs) and comes out after.
const SYSTEM_CA = `/usr/local/share/ca-certificates/livechannel-test-${process.pid}.crt`;
let t: TestApp;
let obs: ObsProcess | undefined;

beforeAll(async () => {
  const ca = makeCa('livechannel OBS test CA');
  const dir = mkdtempSync(join(tmpdir(), 'lc-obs-tls-'));
  const cert = makeServerCert(ca, dir, 'server', '2001');
  copyFileSync(ca.certFile, SYSTEM_CA);
  execFileSync('update-ca-certificates', [], { stdio: 'ignore' });
  t = await startTestApp({ defaultBucket: 'media', tls: { cert: cert.certFile, key: cert.keyFile }, rtmps: { port: 0 }, https: { port: 0 } });
}, 120_000);
afterAll(async () => {
  await obs?.stop();
  await t?.close();
  rmSync(SYSTEM_CA, { force: true });
  execFileSync('update-ca-certificates', ['--fresh'], { stdio: 'ignore' });
});

describe('OBS Studio over RTMPS', () => {
  it('pushes with the Server and Stream Key fields of a signed rtmps:// URL, verifying the certificate', async () => {
    await t.client('media').putChannel('obs-tls', { Target: { Type: 'HLS', FragDuration: '2', FragCount: '3' } });
    // the certificate names localhost (and 127.0.0.1): OBS checks the name it connects to
    const url = signPushUrl({ base: `rtmps://localhost:${t.app.rtmpsPort()}`, bucket: 'media', channel: 'obs-tls', ...KEY, expires: Math.floor(Date.now() / 1000) + 3600 });
    const fields = obsFields(url);
    expect(fields.server).toBe(`rtmps://localhost:${t.app.rtmpsPort()}/live`);
    obs = startObs(fields);
    const stored = join(t.dataDir, 'buckets', 'media', 'obs-tls');
    try {
      await eventually(() => (t.app.ingest.registry.size > 0 ? true : undefined), 40_000, 'OBS live over RTMPS');
      await eventually(async () => ((await t.app.storeFor('media').head('obs-tls/playlist1.ts')) ? true : undefined), 30_000, 'two segments from OBS');
    } catch (err) {
      throw new Error(`${(err as Error).message}\nOBS log:\n${obs.log().slice(-3000)}`);
    }
    await obs.stop();
    expect(await ffmpegWarnings(join(stored, 'playlist0.ts'))).toBe('');
    expect(obs.log()).not.toMatch(/certificate verification failed|X509 - Certificate verification failed/i);
  }, 120_000);
});
