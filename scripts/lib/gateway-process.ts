import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';

export async function waitFor<T>(check: () => T | undefined, ms: number, what: string): Promise<T> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const v = check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export interface GatewayProcess {
  child: ChildProcess;
  http: number;
  rtmp: number;
  /** The RTMPS port, when the config turns it on. */
  rtmps?: number;
}

/**
 * The built gateway (dist/) in its own process with config file `cfg`, once it listens.
 * BENCH_CPU_PROF=dir writes a V8 CPU profile of it there; BENCH_NODE_ARGS adds Node flags;
 * BENCH_GATEWAY_OUT=file appends its stdout there.
 */
export async function spawnGateway(cfg: string, wrap: string[] = []): Promise<GatewayProcess> {
  const args = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  args.push(...(process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean));
  const [cmd, ...pre] = [...wrap, process.execPath];
  const child: ChildProcess = spawn(cmd!, [...pre, ...args, 'dist/main.js', 'serve', '--config', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (c) => {
    out += c;
    if (process.env.BENCH_GATEWAY_OUT) writeFileSync(process.env.BENCH_GATEWAY_OUT, c, { flag: 'a' });
  });
  child.stderr!.on('data', (c) => (out += c));
  const [, http, rtmp] = await waitFor(() => /API http:\/\/[^:]+:(\d+) +RTMP rtmp:\/\/[^:]+:(\d+)/.exec(out) ?? undefined, 20_000, 'the gateway to start');
  const rtmps = /RTMPS rtmps:\/\/[^:]+:(\d+)/.exec(out)?.[1];
  return { child, http: Number(http), rtmp: Number(rtmp), ...(rtmps ? { rtmps: Number(rtmps) } : {}) };
}

/** SIGTERM, and the exit. */
export async function stopGateway({ child }: GatewayProcess): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}
