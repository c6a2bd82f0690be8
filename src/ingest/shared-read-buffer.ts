/**
 * Plain-TCP RTMP sockets read into one buffer shared by every connection (Node's `onread`),
 * instead of a fresh 64 KiB ArrayBuffer and a stream chunk per read. At 100 publishers that
 * is ~7,000 reads a second; their allocations and the stream machinery around them were a
 * tenth of the ingest thread's time. The data handed out is only valid during the call: the
 * RTMP parser copies what it keeps.
 *
 * Node's server does not take `onread`, so an accepted socket's handle is moved into a new
 * Socket that does. That uses the socket's `_handle`; where it is missing (another Node), the
 * accepted socket is used as it is and reads the ordinary way.
 */
import { Socket } from 'node:net';

const shared = Buffer.allocUnsafe(64 * 1024);
const receivers = new WeakMap<Socket, { deliver?: (data: Buffer) => void }>();

/**
 * For a socket accepted by a server created with `pauseOnConnect`: the same connection as a
 * socket that reads into the shared buffer, paused until `readSocket()` is called on it.
 */
export function adoptForSharedReads(accepted: Socket): Socket {
  const internal = accepted as unknown as { _handle?: unknown };
  if (!internal._handle || accepted.destroyed) return accepted;
  const slot: { deliver?: (data: Buffer) => void } = {};
  const socket = new Socket({
    handle: internal._handle,
    pauseOnCreate: true,
    onread: { buffer: shared, callback: (n: number, buf: Uint8Array) => void slot.deliver?.(Buffer.from(buf.buffer, buf.byteOffset, n)) },
  } as ConstructorParameters<typeof Socket>[0]);
  // the accepted socket gives up its handle: destroying it only settles the server's count
  internal._handle = null;
  accepted.destroy();
  receivers.set(socket, slot);
  return socket;
}

/** Whether `socket` reads into the shared buffer. */
export function readsShared(socket: Socket): boolean {
  return receivers.has(socket);
}

/** Delivers what `socket` receives to `onData` (the shared buffer's view, or a 'data' chunk) and starts reading. */
export function readSocket(socket: Socket, onData: (data: Buffer) => void): void {
  const slot = receivers.get(socket);
  if (slot) slot.deliver = onData;
  else socket.on('data', onData);
  socket.resume();
}
