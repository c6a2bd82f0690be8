export function verifyOssCallback(
  request: { url: string; headers: Record<string, string | string[] | undefined>; body: Uint8Array | string },
  trustedKeyUrlPrefix: string,
): Promise<boolean>;
