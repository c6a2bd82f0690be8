// A publish-hook receiver in its own process, for tests: the channel name picks the answer.
//   deny-*  → 403 {"message": "not on tonight's schedule"}
//   text-*  → 401 with a plain-text body
//   slow-*  → 200 after 10 s
//   others  → 200
// Prints "listening <port>", then every request body as one JSON line.
import { createServer } from 'node:http';

const server = createServer((req, res) => {
  let body = '';
  req.on('data', (c) => (body += c));
  req.on('end', () => {
    process.stdout.write(`${JSON.stringify({ at: Date.now(), path: req.url, contentType: req.headers['content-type'], body: JSON.parse(body) })}\n`);
    const channel = JSON.parse(body).channel ?? '';
    if (channel.startsWith('deny-')) {
      res.writeHead(403, { 'content-type': 'application/json' }).end(JSON.stringify({ message: "not on tonight's schedule" }));
    } else if (channel.startsWith('text-')) {
      res.writeHead(401, { 'content-type': 'text/plain' }).end('stream key revoked\nby the operator');
    } else if (channel.startsWith('slow-')) {
      setTimeout(() => res.writeHead(200).end('ok'), 10_000);
    } else {
      res.writeHead(204).end();
    }
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`listening ${server.address().port}\n`));
