import type Database from 'better-sqlite3';
import type { LostPush, OutboxEntry, OutboxRow, OutboxStore, OutboxTrim } from './outbox.js';
import { toOutboxRow, trimPlan, type OutboxDbRow } from './rows.js';

const LIVE_HEADS = `SELECT o.* FROM outbox o
  JOIN (SELECT min(id) AS id FROM outbox WHERE dead_at IS NULL GROUP BY target, bucket, channel) h ON h.id = o.id
  WHERE o.next_at <= ? ORDER BY o.id LIMIT ?`;

/** The outbox in the SQLite catalog's file; `insert` joins the catalog's own transactions. */
export class SqliteOutbox implements OutboxStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      insert: db.prepare(
        `INSERT INTO outbox (event_id, target, bucket, channel, type, droppable, body, created_at)
         VALUES (@eventId, @target, @bucket, @channel, @type, @droppable, @body, @createdAt)`,
      ),
      heads: db.prepare<[number, number], OutboxDbRow>(LIVE_HEADS),
      next: db.prepare<[string, string, string, number, number], OutboxDbRow>(
        'SELECT * FROM outbox WHERE target = ? AND bucket = ? AND channel = ? AND dead_at IS NULL AND id > ? ORDER BY id LIMIT ?',
      ),
      delete: db.prepare('DELETE FROM outbox WHERE id = ?'),
      retry: db.prepare('UPDATE outbox SET attempts = attempts + 1, next_at = ?, last_error = ? WHERE id = ?'),
      dead: db.prepare('UPDATE outbox SET attempts = attempts + 1, dead_at = ?, last_error = ? WHERE id = ?'),
      counts: db.prepare<[], { rows: number; dead: number; live: number }>(
        'SELECT count(*) AS rows, count(dead_at) AS dead, count(*) - count(dead_at) AS live FROM outbox',
      ),
      deleteDead: db.prepare('DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE dead_at IS NOT NULL ORDER BY id LIMIT ?)'),
      deleteDroppable: db.prepare<[number], { type: string }>(
        'DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE droppable = 1 AND dead_at IS NULL ORDER BY id LIMIT ?) RETURNING type',
      ),
      acquireSender: db.prepare<[{ nodeId: string; now: number; expiresAt: number }], { token: number }>(
        `INSERT INTO outbox_sender (id, node_id, token, expires_at) VALUES (1, @nodeId, 1, @expiresAt)
         ON CONFLICT (id) DO UPDATE SET
           token = CASE WHEN outbox_sender.node_id = excluded.node_id AND outbox_sender.expires_at > @now
                        THEN outbox_sender.token ELSE outbox_sender.token + 1 END,
           node_id = excluded.node_id, expires_at = excluded.expires_at
         WHERE outbox_sender.node_id = excluded.node_id OR outbox_sender.expires_at <= @now
         RETURNING token`,
      ),
      releaseSender: db.prepare('UPDATE outbox_sender SET expires_at = 0 WHERE node_id = ?'),
      segmentsOfPush: db.prepare<[string, string, number, number], { n: number }>(
        'SELECT count(*) AS n FROM segments WHERE bucket = ? AND channel = ? AND start_time >= ? AND push_id = ?',
      ),
    };
  }

  /** Inside the caller's transaction. */
  insert(entries: readonly OutboxEntry[]): void {
    for (const e of entries) this.s.insert.run({ ...e, droppable: e.droppable ? 1 : 0 });
  }

  /** Completes the rows of pushes an UPDATE … RETURNING closed with their segment counts. */
  lostPushes(rows: readonly Omit<LostPush, 'segments'>[]): LostPush[] {
    return rows.map((p) => ({ ...p, segments: this.s.segmentsOfPush.get(p.bucket, p.channel, p.startTime, p.id)!.n }));
  }

  async append(entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length > 0) this.db.transaction(() => this.insert(entries))();
  }

  async heads(now: number, limit: number): Promise<OutboxRow[]> {
    return this.s.heads.all(now, limit).map(toOutboxRow);
  }

  async nextInChannel(row: OutboxRow, limit: number): Promise<OutboxRow[]> {
    return this.s.next.all(row.target, row.bucket, row.channel, row.id, limit).map(toOutboxRow);
  }

  async delivered(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) this.db.transaction(() => ids.forEach((id) => this.s.delete.run(id)))();
  }

  async retryAt(id: number, at: number, error: string): Promise<void> {
    this.s.retry.run(at, error, id);
  }

  async markDead(id: number, now: number, error: string): Promise<void> {
    this.s.dead.run(now, error, id);
  }

  async pending(): Promise<number> {
    return this.s.counts.get()!.live;
  }

  async trim(maxRows: number): Promise<OutboxTrim> {
    return this.db.transaction((): OutboxTrim => {
      const c = this.s.counts.get()!;
      const plan = trimPlan(c.rows, c.dead, maxRows);
      const dropped: Record<string, number> = {};
      const deadRemoved = plan.dead > 0 ? this.s.deleteDead.run(plan.dead).changes : 0;
      if (plan.droppable > 0) for (const { type } of this.s.deleteDroppable.all(plan.droppable)) dropped[type] = (dropped[type] ?? 0) + 1;
      return { dropped, deadRemoved, pending: c.live - plan.droppable };
    }).immediate();
  }

  async acquireSender(nodeId: string, ttlMs: number, now: number): Promise<number | undefined> {
    return this.s.acquireSender.get({ nodeId, now, expiresAt: now + ttlMs })?.token;
  }

  async releaseSender(nodeId: string): Promise<void> {
    this.s.releaseSender.run(nodeId);
  }
}
