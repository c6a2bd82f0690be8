import { describe, expect, it } from 'vitest';
import { backoffDelay, isRetryable } from './retry.js';

describe('isRetryable', () => {
  it.each([
    [{ status: 503, code: 'ServiceUnavailable' }],
    [{ status: 500, code: 'InternalError' }],
    [{ status: 502 }],
    [{ status: 429 }],
    [{ status: 408 }],
    [{ status: 400, code: 'RequestTimeout' }],
    [{ status: 403, code: 'RequestTimeTooSkewed' }],
    [{ code: 'ECONNRESET' }],
    [{ code: 'ECONNREFUSED' }],
    [{ code: 'ETIMEDOUT' }],
    [{ name: 'ResponseTimeoutError', status: -1 }],
    [{ name: 'ConnectionTimeoutError', status: -2 }],
    [{ message: 'socket hang up' }],
  ])('retries %j', (err) => {
    expect(isRetryable(err)).toBe(true);
  });

  it.each([
    [{ status: 403, code: 'AccessDenied' }],
    [{ status: 403, code: 'SignatureDoesNotMatch' }],
    [{ status: 404, code: 'NoSuchBucket' }],
    [{ status: 400, code: 'InvalidArgument' }],
    [{ status: 400, code: 'InvalidDigest' }],
    [{ status: 400, code: 'BadDigest' }],
    [{ code: 'EACCES', message: 'permission denied' }],
    [{ code: 'ENOSPC', message: 'no space left on device' }],
    [new TypeError('x is not a function')],
    [undefined],
  ])('does not retry %j', (err) => {
    expect(isRetryable(err)).toBe(false);
  });
});

describe('backoffDelay', () => {
  it('grows exponentially up to the cap, with full jitter', () => {
    const policy = { baseMs: 100, maxMs: 5000 };
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, policy, () => 1))).toEqual([100, 200, 400, 800, 5000]);
    expect(backoffDelay(3, policy, () => 0)).toBe(0);
    expect(backoffDelay(3, policy, () => 0.5)).toBe(400);
  });
});
