import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second, the unit of /proc/<pid>/stat's CPU times. */
export const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());

/** The fields of /proc/<pid>/stat after the command name (index 1 is the parent pid). */
function statFields(pid: number | string): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** A process and its children (a gateway's workers, nginx's worker). */
export function treePids(root: number): number[] {
  const pids = [root];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (Number(statFields(entry)[1]) === root) pids.push(Number(entry));
    } catch {
      /* gone */
    }
  }
  return pids;
}

/** CPU ticks (user + system) of `roots` and, with `tree`, their children. */
export function cpuTicks(roots: number[], tree = true): number {
  let total = 0;
  for (const pid of tree ? roots.flatMap(treePids) : roots) {
    try {
      const f = statFields(pid);
      total += Number(f[11]) + Number(f[12]);
    } catch {
      /* gone */
    }
  }
  return total;
}

/** The children of `roots` whose command name is `comm` (a gateway's ffmpeg decoders). */
export function childrenNamed(roots: number[], comm: string): number[] {
  return roots.flatMap((root) => treePids(root).slice(1)).filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === comm;
    } catch {
      return false;
    }
  });
}

/** Busy CPU ticks of the whole machine, every core (/proc/stat: all but idle and iowait). */
export function machineBusyTicks(): number {
  const [, user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).map(Number);
  return user! + nice! + system! + irq! + softirq! + steal!;
}

/** The CPU's model name, as the kernel reports it. */
export function cpuModel(): string {
  return /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1] ?? 'unknown CPU';
}
