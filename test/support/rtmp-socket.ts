import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { c0c1 } from '../../scripts/lib/rtmp-wire.js';
import { eventually } from './ffmpeg-push.js';

/** A raw TCP connection to the gateway's RTMP port, with everything it received so far. */
export function openRtmpSocket(port: number): Promise<{ socket: Socket; received: () => Buffer; closed: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c) => chunks.push(c));
    const closed = new Promise<void>((r) => socket.on('close', () => r()));
    socket.on('error', reject);
    socket.on('connect', () => resolve({ socket, received: () => Buffer.concat(chunks), closed }));
  });
}

/** Sends C0+C1 and waits for S0+S1+S2; returns S1, which the client echoes as C2. */
export async function handshake(socket: Socket, received: () => Buffer): Promise<Buffer> {
  socket.write(c0c1());
  await eventually(() => (received().length >= 3073 ? true : undefined), 5000, 'S0S1S2');
  return received().subarray(1, 1537);
}

/** The channel's playlist in a filesystem bucket once it has #EXT-X-ENDLIST (the push ended). */
export function endedPlaylist(channelDir: string, timeoutMs = 15_000): Promise<string> {
  return eventually(() => {
    try {
      const text = readFileSync(join(channelDir, 'playlist.m3u8'), 'utf8');
      return text.includes('#EXT-X-ENDLIST') ? text : undefined;
    } catch {
      return undefined;
    }
  }, timeoutMs, 'ended playlist');
}
