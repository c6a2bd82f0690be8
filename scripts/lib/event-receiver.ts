import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** An event-notification receiver for the benches: answers 204, counts events by type and how late they arrive. */
export async function startEventReceiver() {
  const lags: number[] = [];
  const types = new Map<string, number>();
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const event = JSON.parse(Buffer.concat(chunks).toString()) as { type: string; time: string };
      lags.push(Date.now() - Date.parse(event.time));
      types.set(event.type, (types.get(event.type) ?? 0) + 1);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/events`,
    stats() {
      const sorted = [...lags].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
      return {
        received: lags.length,
        byType: [...types].map(([t, n]) => `${t} ${n}`).join(', '),
        p50: at(0.5),
        p99: at(0.99),
        max: sorted.at(-1) ?? 0,
      };
    },
    close: () => server.close(),
  };
}
