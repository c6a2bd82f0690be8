/** Which storage failures are worth retrying, and how long to wait before the next try. */

const RETRYABLE_NETWORK_CODES = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'ECONNABORTED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT',
]);

/** ali-oss (urllib) names for timeouts and broken connections. */
const RETRYABLE_ERROR_NAMES = new Set([
  'ConnectionTimeoutError', 'ResponseTimeoutError', 'RequestTimeoutError', 'ResponseError', 'SocketAssignTimeoutError',
  'ConnectionResetError', 'RemoteSocketClosedError', 'SocketError',
]);

/** OSS error codes that mean "try again", whatever the status. */
const RETRYABLE_OSS_CODES = new Set(['RequestTimeout', 'ServiceUnavailable', 'InternalError', 'SlowDown', 'RequestTimeTooSkewed', 'ConnectionTimeoutError']);

export interface StorageErrorLike {
  status?: number;
  code?: string;
  name?: string;
  message?: string;
}

/**
 * Retry network failures, timeouts, 5xx and 429; do not retry other 4xx (AccessDenied,
 * NoSuchBucket, InvalidArgument, BadDigest…), local errors (EACCES, ENOSPC) or bugs.
 */
export function isRetryable(err: unknown): boolean {
  const e = (err ?? {}) as StorageErrorLike;
  if (typeof e.status === 'number' && e.status > 0) {
    if (e.status >= 500 || e.status === 429 || e.status === 408) return true;
    if (e.code && RETRYABLE_OSS_CODES.has(e.code)) return true;
    return false;
  }
  if (e.code && (RETRYABLE_NETWORK_CODES.has(e.code) || RETRYABLE_OSS_CODES.has(e.code))) return true;
  if (e.name && RETRYABLE_ERROR_NAMES.has(e.name)) return true;
  return /socket hang up|timeout|ECONNRESET|ECONNREFUSED/i.test(e.message ?? '');
}

export interface BackoffPolicy {
  baseMs: number;
  maxMs: number;
}

/** Exponential backoff with full jitter: uniform in [0, min(max, base·2^attempt)]. */
export function backoffDelay(attempt: number, policy: BackoffPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** attempt);
  return Math.round(random() * ceiling);
}
