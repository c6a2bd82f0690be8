import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The cost of a publisher this node measured, kept in its data dir across restarts: after a
 * restart every encoder reconnects at once, and a node that already knows what each costs
 * admits them as fast as they fit instead of at the cold-start pace, and refuses at once what
 * would not fit.
 */
export class RememberedCost {
  private readonly file: string;

  constructor(dataDir: string, nodeId: string) {
    this.file = join(dataDir, `publisher-cost-${nodeId.replace(/[^A-Za-z0-9._-]/g, '_')}.json`);
  }

  read(): number | undefined {
    try {
      const { cost } = JSON.parse(readFileSync(this.file, 'utf8')) as { cost?: unknown };
      return typeof cost === 'number' && cost > 0 && cost < 1 ? cost : undefined;
    } catch {
      return undefined;
    }
  }

  write(cost: number | undefined): void {
    if (cost === undefined || !(cost > 0 && cost < 1)) return;
    try {
      mkdirSync(join(this.file, '..'), { recursive: true });
      writeFileSync(`${this.file}.tmp`, JSON.stringify({ cost, at: new Date().toISOString() }));
      renameSync(`${this.file}.tmp`, this.file);
    } catch {
      // a read-only or full data dir: the next start measures again
    }
  }
}
