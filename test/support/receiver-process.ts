import { spawn } from 'node:child_process';
import { eventually } from './ffmpeg-push.js';

/** An HTTP receiver script run in its own process: it prints "listening <port>", then a JSON line per request. */
export interface ReceiverProcess<T> {
  port: number;
  url(path: string): string;
  /** What it has printed so far, one parsed line per request. */
  seen: T[];
  kill(): void;
}

export async function startReceiver<T>(script: string, env: Record<string, string> = {}): Promise<ReceiverProcess<T>> {
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } });
  const seen: T[] = [];
  let port: number | undefined;
  let out = '';
  child.stdout.on('data', (c) => {
    out += c;
    const lines = out.split('\n');
    out = lines.pop()!;
    for (const line of lines) {
      if (line.startsWith('listening ')) port = Number(line.slice(10));
      else if (line) seen.push(JSON.parse(line) as T);
    }
  });
  const bound = await eventually(() => port, 10_000, `${script} listening`);
  return { port: bound, url: (path) => `http://127.0.0.1:${bound}${path}`, seen, kill: () => child.kill() };
}
