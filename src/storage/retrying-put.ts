import type { FastifyBaseLogger } from 'fastify';
import type { Metrics } from '../metrics.js';
import type { ObjectData, ObjectInfo, ObjectStore } from './object-store.js';
import { backoffDelay, isRetryable, type BackoffPolicy } from './retry.js';
import type { Semaphore } from './semaphore.js';

/** What an object is, in storage metrics and logs. */
export type StoredKind = 'segment' | 'init' | 'playlist' | 'snapshot';

export interface RetryingPutOptions {
  store: ObjectStore;
  /** Bounds storage writes in flight across all channels. */
  semaphore: Semaphore;
  backoff: BackoffPolicy;
  metrics: Metrics;
  log: FastifyBaseLogger;
  channel: string;
  /** Storage said it is full (ENOSPC). */
  onStorageFull?: () => void;
  sleep: (ms: number) => Promise<void>;
}

/** A timer that does not keep the process alive. */
export const unrefSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

/**
 * Stores one object, retrying retryable failures with backoff until `giveUp` says stop;
 * undefined when it was given up or storage refused it for good. Every attempt is timed in
 * livechannel_storage_write_seconds, every retry counted in livechannel_storage_retries_total.
 */
export async function putWithRetries(
  o: RetryingPutOptions,
  kind: StoredKind,
  key: string,
  data: ObjectData,
  contentType: string,
  giveUp: () => boolean,
  onRetry?: () => void,
): Promise<ObjectInfo | undefined> {
  for (let attempt = 0; ; attempt++) {
    const started = process.hrtime.bigint();
    try {
      const info = await o.semaphore.run(() => o.store.put(key, data, contentType));
      o.metrics.storageLatency.observe({ kind, outcome: 'ok' }, Number(process.hrtime.bigint() - started) / 1e9);
      return info;
    } catch (err) {
      o.metrics.storageLatency.observe({ kind, outcome: 'error' }, Number(process.hrtime.bigint() - started) / 1e9);
      if ((err as NodeJS.ErrnoException).code === 'ENOSPC') o.onStorageFull?.();
      if (!isRetryable(err)) {
        o.log.error({ err, channel: o.channel, key }, `${kind} write refused by storage; not retried`);
        return undefined;
      }
      if (giveUp()) return undefined;
      onRetry?.();
      o.metrics.storageRetries.inc({ kind });
      if (attempt === 0 || attempt % 10 === 0) {
        o.log.warn({ channel: o.channel, key, attempt, err: (err as Error).message }, `${kind} write failed; retrying`);
      }
      await o.sleep(backoffDelay(attempt, o.backoff));
      if (giveUp()) return undefined;
    }
  }
}
