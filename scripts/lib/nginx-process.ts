import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './gateway-process.js';

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface NginxProcess {
  /** The master's pid (its one worker is its child). */
  pid: number;
  stop(): Promise<void>;
}

/**
 * Debian's nginx in the foreground with one worker, its pid and logs in `dir`; `body` is the
 * rest of its configuration (events, rtmp or http blocks). `wrap` prefixes the command
 * (["taskset", "-c", "0"]).
 */
export async function runNginx(dir: string, body: string, wrap: string[] = []): Promise<NginxProcess> {
  if (!existsSync('/usr/sbin/nginx')) throw new Error('nginx not installed: apt-get install nginx-light (and libnginx-mod-rtmp for RTMP)');
  const conf = join(dir, 'nginx.conf');
  const pidFile = join(dir, 'nginx.pid');
  writeFileSync(conf, `user root;\nworker_processes 1;\ndaemon off;\npid ${pidFile};\nerror_log ${dir}/error.log warn;\n${body}`);
  const [cmd, ...args] = [...wrap, '/usr/sbin/nginx', '-c', conf, '-p', dir];
  const child = spawn(cmd!, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  await waitFor(() => (existsSync(pidFile) ? true : undefined), 10_000, 'nginx to start');
  await new Promise((r) => setTimeout(r, 300));
  return {
    pid: Number(readFileSync(pidFile, 'utf8')),
    stop: async () => {
      child.kill('SIGQUIT');
      await new Promise((r) => child.once('exit', r));
    },
  };
}
