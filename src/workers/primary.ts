import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';
import { WORKER_INDEX_ENV, type PrimaryMessage, type WorkerMessage } from './messages.js';

export interface PrimaryOptions {
  workers: number;
  /** Called once every worker listens (they share the ports). */
  onListening(ports: { httpPort: number; rtmpPort: number; rtmpsPort?: number; httpsPort?: number; srtPort?: number }): void;
  log(message: string): void;
}

/**
 * The primary of `serve` with several workers: forks one full gateway per worker (they share
 * the RTMP and HTTP ports through node's cluster module, and one catalog), restarts a worker
 * that dies, answers workers' requests for metrics of the whole process group, and on
 * SIGINT/SIGTERM stops every worker gracefully before exiting. A worker that cannot start (a
 * port it cannot bind) stops them all: resolves true then, false after a stop by signal.
 */
export function runPrimary(o: PrimaryOptions): Promise<boolean> {
  const aggregator = new AggregatorRegistry();
  const byIndex = new Map<number, Worker>();
  const ports = new Map<number, { httpPort: number; rtmpPort: number; rtmpsPort?: number; httpsPort?: number; srtPort?: number }>();
  let announced = false;
  let stopping = false;
  let failed = false;
  let stop = () => {};

  const fork = (index: number) => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index) });
    byIndex.set(index, worker);
    worker.on('message', (m: WorkerMessage) => {
      if (m?.type === 'livechannel:start-failed') {
        if (!stopping) o.log(m.message);
        failed = true;
        stop();
      } else if (m?.type === 'livechannel:listening') {
        ports.set(index, { httpPort: m.httpPort, rtmpPort: m.rtmpPort, rtmpsPort: m.rtmpsPort, httpsPort: m.httpsPort, srtPort: m.srtPort });
        if (!announced && ports.size === o.workers) {
          announced = true;
          o.onListening(ports.get(1)!);
        }
      } else if (m?.type === 'livechannel:metrics-request') {
        aggregator.clusterMetrics().then(
          (text) => worker.send({ type: 'livechannel:metrics', id: m.id, text, contentType: aggregator.contentType } satisfies PrimaryMessage),
          (err: Error) => worker.send({ type: 'livechannel:metrics', id: m.id, error: err.message } satisfies PrimaryMessage),
        );
      }
    });
    worker.on('exit', (code, signal) => {
      if (byIndex.get(index) === worker) byIndex.delete(index);
      if (stopping) return;
      o.log(`worker ${index} exited (${signal ?? `code ${code}`}); starting it again`);
      // the same index, so the same node id: it releases the leases the dead one held
      setTimeout(() => fork(index), 1000).unref();
    });
  };
  for (let i = 1; i <= o.workers; i++) fork(i);

  return new Promise((resolve) => {
    stop = () => {
      if (stopping) return;
      stopping = true;
      const alive = [...byIndex.values()].filter((w) => w.process.exitCode === null && w.process.signalCode === null);
      if (alive.length === 0) return resolve(failed);
      let left = alive.length;
      for (const w of alive) {
        w.once('exit', () => {
          if (--left === 0) resolve(failed);
        });
        w.process.kill('SIGTERM');
      }
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
    // passed on: each worker decides what a reload means for it
    process.on('SIGHUP', () => {
      for (const w of byIndex.values()) w.process.kill('SIGHUP');
    });
  });
}
