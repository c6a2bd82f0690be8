import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KEY } from './test-app.js';

/**
 * A config file for a gateway process in a new temp dir: ephemeral ports, the test key, a
 * public-read-write bucket "open"; `extra` adds or replaces fields.
 */
export function writeGatewayConfig(extra: Record<string, unknown> = {}): { dir: string; configFile: string } {
  const dir = mkdtempSync(join(tmpdir(), 'lc-proc-'));
  const configFile = join(dir, 'livechannel.json');
  const config = {
    dataDir: join(dir, 'data'),
    http: { port: 0 },
    rtmp: { port: 0 },
    logLevel: 'warn',
    credentials: [KEY],
    buckets: [{ name: 'open', acl: 'public-read-write' }],
    ...extra,
  };
  writeFileSync(configFile, JSON.stringify(config));
  return { dir, configFile };
}

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
