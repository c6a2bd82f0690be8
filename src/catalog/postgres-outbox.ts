import type pg from 'pg';
import type { LostPush, OutboxEntry, OutboxRow, OutboxStore, OutboxTrim } from './outbox.js';
import { toOutboxRow, trimPlan, type OutboxDbRow } from './rows.js';

const INSERT_FROM = (p: number) => `INSERT INTO outbox (event_id, target, bucket, channel, type, droppable, body, created_at)
  SELECT * FROM unnest($${p}::text[], $${p + 1}::text[], $${p + 2}::text[], $${p + 3}::text[], $${p + 4}::text[], $${p + 5}::boolean[], $${p + 6}::text[], $${p + 7}::bigint[])`;

/** Entries as the eight array parameters the outbox insert takes. */
export function outboxParams(entries: readonly OutboxEntry[]): unknown[] {
  return [
    entries.map((e) => e.eventId),
    entries.map((e) => e.target),
    entries.map((e) => e.bucket),
    entries.map((e) => e.channel),
    entries.map((e) => e.type),
    entries.map((e) => e.droppable),
    entries.map((e) => e.body),
    entries.map((e) => e.createdAt),
  ];
}

/**
 * One statement (one round trip, atomic) that makes a change and, when it changed a row,
 * inserts the outbox entries given as parameters from `firstParam` on; it answers `changed`.
 * `statement` is an INSERT or UPDATE that a RETURNING clause can follow.
 */
export function withOutboxInsert(statement: string, firstParam: number): string {
  return `WITH c AS (${statement} RETURNING 1), o AS (${INSERT_FROM(firstParam)} WHERE EXISTS (SELECT 1 FROM c))
    SELECT count(*)::int AS changed FROM c`;
}

const SQL = {
  insert: INSERT_FROM(1),
  heads: `SELECT o.* FROM outbox o
     JOIN (SELECT min(id) AS id FROM outbox WHERE dead_at IS NULL GROUP BY target, bucket, channel) h ON h.id = o.id
     WHERE o.next_at <= $1 ORDER BY o.id LIMIT $2`,
  next: 'SELECT * FROM outbox WHERE target = $1 AND bucket = $2 AND channel = $3 AND dead_at IS NULL AND id > $4 ORDER BY id LIMIT $5',
  delete: 'DELETE FROM outbox WHERE id = ANY($1::bigint[])',
  retry: 'UPDATE outbox SET attempts = attempts + 1, next_at = $2, last_error = $3 WHERE id = $1',
  dead: 'UPDATE outbox SET attempts = attempts + 1, dead_at = $2, last_error = $3 WHERE id = $1',
  counts: 'SELECT count(*)::int AS rows, count(dead_at)::int AS dead FROM outbox',
  deleteDead: 'DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE dead_at IS NOT NULL ORDER BY id LIMIT $1)',
  deleteDroppable: `DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE droppable AND dead_at IS NULL ORDER BY id LIMIT $1)
     RETURNING type`,
  acquireSender: `INSERT INTO outbox_sender (id, node_id, token, expires_at) VALUES (1, $1, 1, $3)
     ON CONFLICT (id) DO UPDATE SET
       token = CASE WHEN outbox_sender.node_id = EXCLUDED.node_id AND outbox_sender.expires_at > $2
                    THEN outbox_sender.token ELSE outbox_sender.token + 1 END,
       node_id = EXCLUDED.node_id, expires_at = EXCLUDED.expires_at
     WHERE outbox_sender.node_id = EXCLUDED.node_id OR outbox_sender.expires_at <= $2
     RETURNING token`,
  releaseSender: 'UPDATE outbox_sender SET expires_at = 0 WHERE node_id = $1',
} as const;

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient;

/**
 * SQL that completes pushes an UPDATE … RETURNING closed (CTE `closed`) into LostPush JSON,
 * with their segment counts.
 */
export const LOST_PUSHES_JSON = `coalesce((SELECT json_agg(json_build_object('id', c.id, 'bucket', c.bucket, 'channel', c.channel,
    'startTime', c.start_time, 'endTime', c.end_time, 'remoteAddr', c.remote_addr, 'nodeId', c.node_id,
    'segments', (SELECT count(*) FROM segments s WHERE s.bucket = c.bucket AND s.channel = c.channel
                 AND s.start_time >= c.start_time AND s.push_id = c.id))) FROM closed c), '[]'::json)`;
export type LostPushesJson = LostPush[];

/** The outbox in the PostgreSQL catalog; `insertWith` joins the catalog's own transactions. */
export class PostgresOutbox implements OutboxStore {
  constructor(private readonly pool: pg.Pool) {}

  private q<R extends pg.QueryResultRow>(name: keyof typeof SQL, values: unknown[], on: Queryable = this.pool): Promise<pg.QueryResult<R>> {
    return on.query<R>({ name: `outbox_${name}`, text: SQL[name], values });
  }

  async insertWith(client: Queryable, entries: readonly OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    await this.q('insert', outboxParams(entries), client);
  }

  async append(entries: readonly OutboxEntry[]): Promise<void> {
    await this.insertWith(this.pool, entries);
  }

  async heads(now: number, limit: number): Promise<OutboxRow[]> {
    return (await this.q<OutboxDbRow>('heads', [now, limit])).rows.map(toOutboxRow);
  }

  async nextInChannel(row: OutboxRow, limit: number): Promise<OutboxRow[]> {
    return (await this.q<OutboxDbRow>('next', [row.target, row.bucket, row.channel, row.id, limit])).rows.map(toOutboxRow);
  }

  async delivered(ids: readonly number[]): Promise<void> {
    if (ids.length > 0) await this.q('delete', [ids]);
  }

  async retryAt(id: number, at: number, error: string): Promise<void> {
    await this.q('retry', [id, at, error]);
  }

  async markDead(id: number, now: number, error: string): Promise<void> {
    await this.q('dead', [id, now, error]);
  }

  async pending(): Promise<number> {
    const c = (await this.q<{ rows: number; dead: number }>('counts', [])).rows[0]!;
    return c.rows - c.dead;
  }

  async trim(maxRows: number): Promise<OutboxTrim> {
    const c = (await this.q<{ rows: number; dead: number }>('counts', [])).rows[0]!;
    const plan = trimPlan(c.rows, c.dead, maxRows);
    const dropped: Record<string, number> = {};
    const deadRemoved = plan.dead > 0 ? ((await this.q('deleteDead', [plan.dead])).rowCount ?? 0) : 0;
    if (plan.droppable > 0) {
      for (const { type } of (await this.q<{ type: string }>('deleteDroppable', [plan.droppable])).rows) dropped[type] = (dropped[type] ?? 0) + 1;
    }
    return { dropped, deadRemoved, pending: c.rows - c.dead - plan.droppable };
  }

  async acquireSender(nodeId: string, ttlMs: number, now: number): Promise<number | undefined> {
    return (await this.q<{ token: number }>('acquireSender', [nodeId, now, now + ttlMs])).rows[0]?.token;
  }

  async releaseSender(nodeId: string): Promise<void> {
    await this.q('releaseSender', [nodeId]);
  }
}
