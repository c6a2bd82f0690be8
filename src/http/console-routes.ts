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

/** The operator console: static files (no build step) and what the page needs to know. */
export function registerConsole(app: FastifyInstance, buckets: BucketConfig[], defaultBucket: string, urls: UrlBuilder): void {
  for (const [url, [file, type]] of Object.entries(FILES)) {
    app.get(url, async (_req, reply) => reply.type(type).header('cache-control', 'no-cache').send(await readFile(file)));
  }
  app.get('/console/info.json', async () => ({
    defaultBucket,
    buckets: buckets.map((b) => ({ name: b.name, acl: b.acl, rtmpBase: urls.rtmpBase(b.name) })),
  }));
}
