import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { createServer as createTlsServer, type Server as TlsServer, type TLSSocket } from 'node:tls';
import type { CertificateStore } from './certificate-store.js';

/** A TLS handshake not finished by then is dropped (a flood of half-open handshakes holds nothing long). */
export const TLS_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface SecureStreamOptions {
  /** A raw TCP connection, before its handshake: false drops it (connection limits count handshakes too). */
  admit(raw: Socket): boolean;
  /** A connection whose handshake finished. */
  secure(socket: TLSSocket): void;
  /** A handshake that failed (plain RTMP on the TLS port, a bad client, a timeout). */
  failed(err: Error & { code?: string }, socket: TLSSocket): void;
}

/** A TLS wrapper around a stream listener (RTMPS): the store's certificate, reloaded for new connections. */
export function secureStreamServer(store: CertificateStore, o: SecureStreamOptions): TlsServer {
  const { cert, key } = store.pair;
  const server = createTlsServer({ cert, key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, (socket) => o.secure(socket));
  server.on('connection', (raw: Socket) => {
    if (!o.admit(raw)) raw.destroy();
  });
  server.on('tlsClientError', (err, socket) => {
    o.failed(err, socket);
    socket.destroy();
  });
  store.serve((pair) => server.setSecureContext({ cert: pair.cert, key: pair.key }));
  return server;
}

/** HTTPS for the same request listener the plain HTTP server runs. */
export function secureHttpServer(store: CertificateStore, listener: (req: IncomingMessage, res: ServerResponse) => void, onError: (err: Error & { code?: string }) => void): HttpsServer {
  const { cert, key } = store.pair;
  const server = createHttpsServer({ cert, key, handshakeTimeout: TLS_HANDSHAKE_TIMEOUT_MS }, listener);
  server.on('tlsClientError', (err, socket) => {
    onError(err);
    socket.destroy();
  });
  store.serve((pair) => server.setSecureContext({ cert: pair.cert, key: pair.key }));
  return server;
}
