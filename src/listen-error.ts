import type { AddressInfo, Server } from 'node:net';

/** A listener that could not bind: the one line `serve` prints before exiting 1. */
export class ListenError extends Error {
  constructor(what: string, host: string, port: number, cause: NodeJS.ErrnoException, advice: string) {
    const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const why =
      cause.code === 'EADDRINUSE'
        ? 'the address is already in use (another gateway or program listens there)'
        : cause.code === 'EACCES'
          ? 'permission denied (ports below 1024 need privileges)'
          : cause.code === 'EADDRNOTAVAIL'
            ? 'no interface of this machine has that address'
            : (cause.code ?? cause.message);
    super(`cannot listen for ${what} on ${where}: ${why}; ${advice}`);
    this.name = 'ListenError';
  }
}

/** Runs a listen, turning its failure into a ListenError that says what to change. */
export async function listenOr<T>(what: string, host: string, port: number, advice: string, listen: () => Promise<T>): Promise<T> {
  try {
    return await listen();
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (typeof e.code === 'string' && /^E[A-Z]+$/.test(e.code)) throw new ListenError(what, host, port, e, advice);
    throw err;
  }
}

/** Binds a server (net, TLS or HTTPS) and resolves with its port. */
export function listenOn(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}
