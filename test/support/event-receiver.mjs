// An event-notification and upload-callback receiver in its own process, for tests. Checks
// each request's signature with the verifier the README documents.
//   RECEIVER_FAIL_MS=n  answer 503 for n ms from the first event, then 200
//   RECEIVER_STATUS=s   always answer s
//   /upload-callback       → 200 {"received": <body>, "verified": <bool>}
//   /upload-callback-fail  → 500
// Prints "listening <port>", then one JSON line per request.
import { createServer } from 'node:http';
import { verifyOssCallback } from './verify-oss-callback.mjs';

const failMs = Number(process.env.RECEIVER_FAIL_MS ?? 0);
const fixedStatus = Number(process.env.RECEIVER_STATUS ?? 0);
let firstAt;

const server = createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    const body = Buffer.concat(chunks);
    const verified = await verifyOssCallback({ url: req.url, headers: req.headers, body }, 'http://127.0.0.1:').catch(() => false);
    const now = Date.now();
    firstAt ??= now;
    let status = fixedStatus || (now - firstAt < failMs ? 503 : 200);
    if (req.url.startsWith('/upload-callback-fail')) status = 500;
    process.stdout.write(`${JSON.stringify({ at: now, status, path: req.url, headers: req.headers, verified, body: body.toString() })}\n`);
    if (req.url.startsWith('/upload-callback') && status === 200) {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ received: body.toString(), verified }));
    } else {
      res.writeHead(status).end(status === 200 ? 'ok' : 'unavailable');
    }
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
