/** An OSS-style error: rendered as <Error><Code/><Message/><RequestId/><HostId/>…</Error>. */
export class OssError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** Extra elements after HostId (e.g. StringToSign for SignatureDoesNotMatch). */
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const errors = {
  accessDenied: (message: string) => new OssError(403, 'AccessDenied', message),
  invalidAccessKeyId: (id: string) =>
    new OssError(403, 'InvalidAccessKeyId', 'The OSS Access Key Id you provided does not exist in our records.', { OSSAccessKeyId: id }),
  signatureDoesNotMatch: (stringToSign: string, provided: string, id: string) =>
    new OssError(
      403,
      'SignatureDoesNotMatch',
      'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
      {
        StringToSign: stringToSign,
        StringToSignBytes: [...Buffer.from(stringToSign)].map((b) => b.toString(16).padStart(2, '0')).join(' '),
        SignatureProvided: provided,
        OSSAccessKeyId: id,
      },
    ),
  requestTimeTooSkewed: (requestTime: string, serverTime: string) =>
    new OssError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the current time is too large.', {
      RequestTime: requestTime,
      ServerTime: serverTime,
      MaxAllowedSkewMilliseconds: '900000',
    }),
  invalidArgument: (message: string, name?: string, value?: string) =>
    new OssError(400, 'InvalidArgument', message, name === undefined ? {} : { ArgumentName: name, ArgumentValue: value ?? '' }),
  malformedXml: (message: string) => new OssError(400, 'MalformedXML', message),
  noSuchBucket: (bucket: string) => new OssError(404, 'NoSuchBucket', 'The specified bucket does not exist.', { BucketName: bucket }),
  noSuchLiveChannel: (name: string) =>
    new OssError(404, 'NoSuchLiveChannel', 'The specified live channel does not exist.', { LiveChannelName: name }),
  liveChannelInUse: (name: string, what: string) =>
    new OssError(409, 'LiveChannelConflict', `The live channel "${name}" is being pushed to; ${what} is not allowed while it is live.`),
  entityTooLarge: (limit: number) =>
    new OssError(400, 'EntityTooLarge', `Your proposed upload exceeds the maximum allowed size of ${limit} bytes.`),
  methodNotAllowed: (method: string) => new OssError(405, 'MethodNotAllowed', `The specified method (${method}) is not allowed against this resource.`),
  notImplemented: (what: string) => new OssError(501, 'NotImplemented', `${what} is not implemented by this gateway.`),
  /** A channel asked for snapshots on a gateway that has no ffmpeg to make them. */
  snapshotsUnavailable: (advice: string) =>
    new OssError(501, 'NotImplemented', `Snapshots need ffmpeg, and this gateway found none when it started: ${advice}; then restart the gateway.`),
  invalidUri: (message: string) => new OssError(400, 'InvalidURI', message),
  /** The object was stored, but its upload callback failed (OSS answers 203 then). */
  callbackFailed: (message: string, etag: string) => new OssError(203, 'CallbackFailed', message, { ETag: etag }),
};
