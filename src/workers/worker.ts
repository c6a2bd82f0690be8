import cluster from 'node:cluster';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { WORKER_INDEX_ENV, type PrimaryMessage, type WorkerMessage } from './messages.js';

/** This process's worker index (1-based), or undefined when it is not a worker of `serve`. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const index = Number(process.env[WORKER_INDEX_ENV]);
  return Number.isInteger(index) && index > 0 ? index : undefined;
}

/** Tells the primary this worker listens; its metrics join the group's. Exits if the primary dies. */
export function joinPrimary(registry: Registry, ports: { httpPort: number; rtmpPort: number; rtmpsPort?: number; httpsPort?: number; srtPort?: number }): void {
  AggregatorRegistry.setRegistries([registry]);
  // constructing one is what makes prom-client answer the primary's requests in a worker
  new AggregatorRegistry();
  // no primary, no shared ports: a worker on its own would only confuse (a kill -9 of the primary is a crash of the whole)
  process.on('disconnect', () => process.exit(1));
  process.send!({ type: 'livechannel:listening', ...ports } satisfies WorkerMessage);
}

/** Tells the primary that this worker could not start, so that it stops instead of forking it again. */
export function reportStartFailure(message: string): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) return resolve();
    process.send({ type: 'livechannel:start-failed', message } satisfies WorkerMessage, undefined, {}, () => resolve());
  });
}

let nextId = 0;
const waiting = new Map<number, (m: PrimaryMessage) => void>();
process.on('message', (m: PrimaryMessage) => {
  if (m?.type !== 'livechannel:metrics') return;
  waiting.get(m.id)?.(m);
  waiting.delete(m.id);
});

/** The metrics of every worker, summed by the primary (prom-client's cluster aggregation). */
export function groupMetrics(): Promise<{ text: string; contentType: string }> {
  const id = ++nextId;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      waiting.delete(id);
      reject(new Error('the primary did not answer for metrics'));
    }, 5000);
    waiting.set(id, (m) => {
      clearTimeout(timer);
      if (m.error || m.text === undefined) reject(new Error(m.error ?? 'no metrics'));
      else resolve({ text: m.text, contentType: m.contentType ?? 'text/plain' });
    });
    process.send!({ type: 'livechannel:metrics-request', id } satisfies WorkerMessage);
  });
}
