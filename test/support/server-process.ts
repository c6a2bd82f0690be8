import { spawn, type ChildProcess } from 'node:child_process';

/** The gateway as a separate process (`livechannel serve --config …`), for crash and signal tests. */
export interface ServerProcess {
  httpPort: number;
  rtmpPort: number;
  output(): string;
  exited: Promise<number | null>;
  signal(s: NodeJS.Signals): void;
}

export async function startServerProcess(configFile: string): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts', 'serve', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => (out += c));
  child.stderr!.on('data', (c) => (out += c));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  for (let i = 0; i < 300; i++) {
    const m = /API http:\/\/[^:]+:(\d+) +RTMP rtmp:\/\/[^:]+:(\d+)/.exec(out);
    if (m) {
      return { httpPort: Number(m[1]), rtmpPort: Number(m[2]), output: () => out, exited, signal: (s) => child.kill(s) };
    }
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`server did not start:\n${out}`);
}
