import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import type { BucketConfig } from '../config.js';
import type { UrlBuilder } from './urls.js';

const CONSOLE_DIR = fileURLToPath(new URL('../../console/', import.meta.url));
const HLS_JS = createRequire(import.meta.url).resolve('hls.js/dist/hls.min.js');

const FILES: Record<string, [string, string]> = {
  '/console': [`${CONSOLE_DIR}index.html`, 'text/html; charset=utf-8'],
  '/console/': [`${CONSOLE_DIR}index.html`, 'text/html; charset=utf-8'],
  '/console/console.js': [`${CONSOLE_DIR}console.js`, 'text/javascript; charset=utf-8'],
  '/console/console.css': [`${CONSOLE_DIR}console.css`, 'text/css; charset=utf-8'],
  '/console/hls.min.js': [HLS_JS, 'text/javascript; charset=utf-8'],
};

/** A small icon, so that browsers asking for /favicon.ico get one instead of an OSS 403. */
const FAVICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><circle cx="8" cy="8" r="7" fill="#c0392b"/><circle cx="8" cy="8" r="3" fill="#fff"/></svg>';

/**
 * The operator console: static files (no build step) and what the page needs to know.
 * `demoCredentialsFile`: where the demo key is kept, when the gateway runs on one.
 */
export function registerConsole(app: FastifyInstance, buckets: BucketConfig[], defaultBucket: string, urls: UrlBuilder, demoCredentialsFile?: string): void {
  for (const [url, [file, type]] of Object.entries(FILES)) {
    app.get(url, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(await readFile(file)));
  }
  app.get('/favicon.ico', async (_req, reply) => reply.type('image/svg+xml').header('cache-control', 'public, max-age=86400').send(FAVICON));
  app.get('/console/info.json', async () => ({
    defaultBucket,
    buckets: buckets.map((b) => ({ name: b.name, acl: b.acl, rtmpBase: urls.rtmpBase(b.name), ...(urls.secure.rtmps ? { rtmpsBase: urls.rtmpBase(b.name, true) } : {}) })),
    ...(demoCredentialsFile ? { demoCredentialsFile } : {}),
  }));
}
