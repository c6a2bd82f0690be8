import pg from 'pg';
import {
  FencedError,
  type Catalog,
  type Channel,
  type ChannelConfig,
  type ChannelStatus,
  type LeaseHolder,
  type LeaseRenewal,
  type LeaseRequest,
  type LeaseResult,
  type ListChannelsQuery,
  type PlaylistResume,
  type PushEndReason,
  type PushRecord,
  type SegmentRecord,
  type SnapshotRecord,
  type HealthSummaryRecord,
  type StopRequest,
  type VodPlaylistRecord,
} from './catalog.js';
import type { LostPushEvents, OutboxEntry } from './outbox.js';
import { PG_MIGRATIONS } from './postgres-migrations.js';
import { LOST_PUSHES_JSON, outboxParams, PostgresOutbox, withOutboxInsert, type LostPushesJson } from './postgres-outbox.js';
import { hlsColumn, snapshotColumn, toChannel, toHolder, toPush, toSegment, toSnapshot, toVod, type ChannelRow, type LeaseRow, type PushRow, type SegmentRow, type SnapshotRow, type VodRow } from './rows.js';

export interface PostgresCatalogOptions {
  url: string;
  poolSize: number;
  /** Log sink for the LISTEN connection's troubles. */
  onError?: (err: Error, what: string) => void;
}

/** Advisory lock key that serialises migrations across nodes starting at once. */
const MIGRATION_LOCK = 0x6c63_6d67; // "lcmg"
const STOP_CHANNEL = 'livechannel_stop';

// BIGINT columns hold epoch ms and ids, all far below 2^53: read them as numbers
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === pg.types.builtins.INT8 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format)) as typeof pg.types.getTypeParser,
};

const HOLDS_LEASE = (bucket: string, channel: string, token: string) =>
  `EXISTS (SELECT 1 FROM leases l WHERE l.bucket = ${bucket} AND l.channel = ${channel} AND l.token = ${token})`;

/** Named statements: parsed and planned once per pooled connection. */
const SQL = {
  getChannel: 'SELECT * FROM channels WHERE bucket = $1 AND name = $2',
  // xmax is 0 on a row this statement inserted, not on one it updated
  putChannel: `INSERT INTO channels (bucket, name, description, status, frag_duration, frag_count, playlist_name, last_modified, snapshot, hls)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
     ON CONFLICT (bucket, name) DO UPDATE SET description = EXCLUDED.description, status = EXCLUDED.status,
       frag_duration = EXCLUDED.frag_duration, frag_count = EXCLUDED.frag_count,
       playlist_name = EXCLUDED.playlist_name, last_modified = EXCLUDED.last_modified, snapshot = EXCLUDED.snapshot, hls = EXCLUDED.hls
     RETURNING (xmax <> 0) AS existed`,
  // the lease holder of a channel disabled or deleted hears of it at once
  setStatus: `WITH u AS (UPDATE channels SET status = $1, last_modified = $2 WHERE bucket = $3 AND name = $4 RETURNING bucket, name)
     SELECT (SELECT count(*) FROM u) AS changed,
            (SELECT count(pg_notify('${STOP_CHANNEL}', l.node_id)) FROM u JOIN leases l ON l.bucket = u.bucket AND l.channel = u.name
              WHERE $1 = 'disabled' AND l.expires_at > $2) AS notified`,
  deleteChannel: `WITH d AS (DELETE FROM channels WHERE bucket = $1 AND name = $2 RETURNING bucket, name)
     SELECT (SELECT count(*) FROM d) AS changed,
            (SELECT count(pg_notify('${STOP_CHANNEL}', l.node_id)) FROM d JOIN leases l ON l.bucket = d.bucket AND l.channel = d.name
              WHERE l.expires_at > 0) AS notified`,
  listChannels: `SELECT * FROM channels WHERE bucket = $1 AND starts_with(name, $2) AND name > $3 ORDER BY name LIMIT $4`,
  startPush: `INSERT INTO pushes (bucket, channel, start_time, remote_addr, node_id, lease_token) VALUES ($1, $2, $3, $4, $5, $6) RETURNING id`,
  endPush: `UPDATE pushes SET end_time = $2, end_reason = $3 WHERE id = $1 AND end_time IS NULL
     AND ${HOLDS_LEASE('pushes.bucket', 'pushes.channel', '$4')}`,
  pushFenced: `SELECT p.bucket, p.channel FROM pushes p WHERE p.id = $1 AND NOT ${HOLDS_LEASE('p.bucket', 'p.channel', '$2')}`,
  closeOpen: `WITH closed AS (
       UPDATE pushes SET end_time = GREATEST(start_time, $1), end_reason = 'interrupted' WHERE end_time IS NULL
       AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.bucket = pushes.bucket AND l.channel = pushes.channel
                       AND l.token = pushes.lease_token AND l.expires_at > $1)
       RETURNING *
     ) SELECT (SELECT count(*) FROM closed)::int AS closed, ${LOST_PUSHES_JSON} AS pushes`,
  recentPushes: 'SELECT * FROM pushes WHERE bucket = $1 AND channel = $2 ORDER BY id DESC LIMIT $3',
  addSegment: `INSERT INTO segments (bucket, channel, push_id, sequence, object_key, start_time, duration_ms, discontinuity, init_key)
     SELECT $1, $2, $3, $4, $5, $6, $7, $8, $10 WHERE ${HOLDS_LEASE('$1', '$2', '$9')}
     ON CONFLICT (bucket, channel, start_time, sequence) DO UPDATE SET push_id = EXCLUDED.push_id,
       object_key = EXCLUDED.object_key, duration_ms = EXCLUDED.duration_ms, discontinuity = EXCLUDED.discontinuity, init_key = EXCLUDED.init_key`,
  segmentsBetween: `SELECT * FROM segments WHERE bucket = $1 AND channel = $2 AND start_time BETWEEN $3 AND $4 ORDER BY push_id, sequence`,
  oldestSegments: `SELECT * FROM segments WHERE bucket = $1 AND start_time < $2 AND (start_time, channel, sequence) > ($4::bigint, $5::text, $6::bigint)
     ORDER BY start_time, channel, sequence LIMIT $3`,
  deleteSegments: `DELETE FROM segments s USING unnest($2::text[], $3::bigint[], $4::bigint[]) AS d(channel, start_time, sequence)
     WHERE s.bucket = $1 AND s.channel = d.channel AND s.start_time = d.start_time AND s.sequence = d.sequence`,
  addSnapshot: `INSERT INTO snapshots (bucket, object_key, channel, taken_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (bucket, object_key) DO UPDATE SET channel = EXCLUDED.channel, taken_at = EXCLUDED.taken_at`,
  oldestSnapshots: `SELECT * FROM snapshots WHERE bucket = $1 AND taken_at < $2 AND (taken_at, object_key) > ($4::bigint, $5::text)
     ORDER BY taken_at, object_key LIMIT $3`,
  deleteSnapshots: 'DELETE FROM snapshots WHERE bucket = $1 AND object_key = ANY($2::text[])',
  addHealth: `INSERT INTO health_summaries (bucket, channel, at, data) SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[])
     ON CONFLICT (bucket, channel, at) DO UPDATE SET data = EXCLUDED.data`,
  healthSummaries: 'SELECT bucket, channel, at, data FROM health_summaries WHERE bucket = $1 AND channel = $2 AND at >= $3 AND at < $4 ORDER BY at LIMIT $5',
  pruneHealth: 'DELETE FROM health_summaries WHERE at < $1',
  initKeysInUse: 'SELECT DISTINCT init_key FROM segments WHERE bucket = $1 AND init_key = ANY($2::text[])',
  recordVod: `INSERT INTO vod_playlists (bucket, object_key, channel, from_ms, to_ms) VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (bucket, object_key) DO UPDATE SET channel = EXCLUDED.channel, from_ms = EXCLUDED.from_ms, to_ms = EXCLUDED.to_ms`,
  vodPlaylists: 'SELECT * FROM vod_playlists WHERE bucket = $1 ORDER BY object_key',
  deleteVod: 'DELETE FROM vod_playlists WHERE bucket = $1 AND object_key = $2',
  playlistStates: 'SELECT channel, name, state FROM playlists WHERE bucket = $1',
  deletePlaylist: 'DELETE FROM playlists WHERE bucket = $1 AND channel = $2 AND name = $3',
  getPlaylist: 'SELECT state FROM playlists WHERE bucket = $1 AND channel = $2 AND name = $3',
  savePlaylist: `INSERT INTO playlists (bucket, channel, name, state, updated) SELECT $1, $2, $3, $4, $5 WHERE ${HOLDS_LEASE('$1', '$2', '$6')}
     ON CONFLICT (bucket, channel, name) DO UPDATE SET state = EXCLUDED.state, updated = EXCLUDED.updated`,
  // one statement: take the lease if free or expired, bump the token, close the old owner's pushes
  acquire: `WITH acquired AS (
       INSERT INTO leases (bucket, channel, node_id, remote_addr, token, acquired_at, expires_at, peer)
       VALUES ($1, $2, $3, $4, 1, $5, $6, $7)
       ON CONFLICT (bucket, channel) DO UPDATE SET node_id = EXCLUDED.node_id, remote_addr = EXCLUDED.remote_addr, peer = EXCLUDED.peer,
         token = leases.token + 1, acquired_at = EXCLUDED.acquired_at, expires_at = EXCLUDED.expires_at,
         stat = NULL, stop_request = NULL
       WHERE leases.expires_at <= EXCLUDED.acquired_at
       RETURNING token
     ), closed AS (
       UPDATE pushes SET end_time = GREATEST(start_time, $5), end_reason = 'interrupted'
       WHERE bucket = $1 AND channel = $2 AND end_time IS NULL AND EXISTS (SELECT 1 FROM acquired)
       RETURNING *
     )
     SELECT (SELECT token FROM acquired) AS token, (SELECT count(*) FROM closed)::int AS closed, ${LOST_PUSHES_JSON} AS pushes`,
  leaseRow: 'SELECT * FROM leases WHERE bucket = $1 AND channel = $2',
  renewMany: `UPDATE leases l SET expires_at = $1, stat = v.stat
     FROM unnest($2::text[], $3::text[], $4::bigint[], $5::text[]) AS v(bucket, channel, token, stat)
     WHERE l.bucket = v.bucket AND l.channel = v.channel AND l.token = v.token AND l.expires_at > 0
     RETURNING l.bucket, l.channel`,
  release: 'UPDATE leases SET expires_at = 0, stat = NULL, stop_request = NULL WHERE bucket = $1 AND channel = $2 AND token = $3',
  releaseNode: 'UPDATE leases SET expires_at = 0, stat = NULL, stop_request = NULL WHERE node_id = $1 AND expires_at > 0',
  requestStop: `WITH u AS (UPDATE leases SET stop_request = $1 WHERE bucket = $2 AND channel = $3 AND expires_at > $4 RETURNING node_id)
     SELECT count(pg_notify('${STOP_CHANNEL}', node_id))::int AS n FROM u`,
  pendingStops: `SELECT l.bucket, l.channel, l.token, coalesce(l.stop_request, 'disabled') AS reason
     FROM leases l LEFT JOIN channels c ON c.bucket = l.bucket AND c.name = l.channel
     WHERE l.node_id = $1 AND l.expires_at > $2 AND (l.stop_request IS NOT NULL OR c.name IS NULL OR c.status = 'disabled')`,
} as const;

/** The catalog on PostgreSQL (node-postgres pool, named prepared statements), shared by every node. */
export class PostgresCatalog implements Catalog {
  private readonly pool: pg.Pool;
  readonly outbox: PostgresOutbox;
  private listener: pg.Client | undefined;
  private readonly stopListeners: (() => void)[] = [];
  private closed = false;

  constructor(private readonly o: PostgresCatalogOptions) {
    this.pool = new pg.Pool({ connectionString: o.url, max: o.poolSize, types, connectionTimeoutMillis: 5000 });
    // an idle pooled connection that drops must not take the process down
    this.pool.on('error', (err) => o.onError?.(err, 'idle catalog connection'));
    this.outbox = new PostgresOutbox(this.pool);
  }

  async open(): Promise<void> {
    const client = await this.pool.connect();
    try {
      await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      try {
        await client.query('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)');
        const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_version');
        const current = rows[0]?.version ?? 0;
        if (current > PG_MIGRATIONS.length) {
          throw new Error(`catalog schema version ${current} is newer than this build supports (${PG_MIGRATIONS.length})`);
        }
        for (let v = current; v < PG_MIGRATIONS.length; v++) {
          await client.query('BEGIN');
          await client.query(PG_MIGRATIONS[v]!);
          await client.query('DELETE FROM schema_version');
          await client.query('INSERT INTO schema_version (version) VALUES ($1)', [v + 1]);
          await client.query('COMMIT');
        }
      } catch (err) {
        await client.query('ROLLBACK').catch(() => {});
        throw err;
      } finally {
        await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      }
    } finally {
      client.release();
    }
  }

  get schemaVersion(): Promise<number> {
    return this.pool.query<{ version: number }>('SELECT version FROM schema_version').then((r) => r.rows[0]?.version ?? 0);
  }

  private async q<R extends pg.QueryResultRow>(name: keyof typeof SQL, values: unknown[], on: pg.Pool | pg.PoolClient = this.pool): Promise<pg.QueryResult<R>> {
    return on.query<R>({ name, text: SQL[name], values });
  }

  /**
   * One statement and, when it changed something, the outbox entries `events` makes of its
   * result, in one transaction; without entries, the statement alone (one round trip).
   */
  private async withEvents<R extends pg.QueryResultRow>(
    name: keyof typeof SQL,
    values: unknown[],
    events: ((r: pg.QueryResult<R>) => readonly OutboxEntry[]) | undefined,
  ): Promise<pg.QueryResult<R>> {
    if (!events) return this.q<R>(name, values);
    const client = await this.pool.connect();
    try {
      await client.query('BEGIN');
      const r = await this.q<R>(name, values, client);
      await this.outbox.insertWith(client, events(r));
      await client.query('COMMIT');
      return r;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      client.release();
    }
  }

  async getChannel(bucket: string, name: string): Promise<Channel | undefined> {
    const row = (await this.q<ChannelRow>('getChannel', [bucket, name])).rows[0];
    return row && toChannel(row);
  }

  /** A per-segment write and its events in one statement: the hot path takes one round trip, not four. */
  private async changeWithEvents(name: 'addSegment' | 'savePlaylist', values: unknown[], events: readonly OutboxEntry[] | undefined): Promise<boolean> {
    if (!events?.length) return Boolean((await this.q(name, values)).rowCount);
    const text = withOutboxInsert(SQL[name], values.length + 1);
    const r = await this.pool.query<{ changed: number }>({ name: `${name}_events`, text, values: [...values, ...outboxParams(events)] });
    return r.rows[0]!.changed > 0;
  }

  async putChannel(bucket: string, name: string, config: ChannelConfig, now = Date.now(), events?: (existed: boolean) => OutboxEntry[]): Promise<Channel> {
    const channel: Channel = { bucket, name, ...config, lastModified: now };
    const values = [bucket, name, config.description, config.status, config.fragDuration, config.fragCount, config.playlistName, now, snapshotColumn(config), hlsColumn(config)];
    await this.withEvents<{ existed: boolean }>('putChannel', values, events && ((r) => events(r.rows[0]!.existed)));
    return channel;
  }

  async setChannelStatus(bucket: string, name: string, status: ChannelStatus, now = Date.now(), events?: readonly OutboxEntry[]): Promise<boolean> {
    const r = await this.withEvents<{ changed: number }>('setStatus', [status, now, bucket, name], events && ((r) => (r.rows[0]!.changed > 0 ? events : [])));
    return r.rows[0]!.changed > 0;
  }

  async deleteChannel(bucket: string, name: string, events?: readonly OutboxEntry[]): Promise<boolean> {
    const r = await this.withEvents<{ changed: number }>('deleteChannel', [bucket, name], events && ((r) => (r.rows[0]!.changed > 0 ? events : [])));
    return r.rows[0]!.changed > 0;
  }

  async listChannels(bucket: string, q: ListChannelsQuery): Promise<{ channels: Channel[]; truncated: boolean }> {
    const { rows } = await this.q<ChannelRow>('listChannels', [bucket, q.prefix, q.marker, q.maxKeys + 1]);
    return { channels: rows.slice(0, q.maxKeys).map(toChannel), truncated: rows.length > q.maxKeys };
  }

  async startPush(
    bucket: string,
    channel: string,
    remoteAddr: string,
    startTime: number,
    nodeId: string,
    leaseToken: number,
    events?: (push: PushRecord) => OutboxEntry[],
  ): Promise<PushRecord> {
    const record = (id: number): PushRecord => ({ id, bucket, channel, startTime, remoteAddr, nodeId });
    const { rows } = await this.withEvents<{ id: number }>('startPush', [bucket, channel, startTime, remoteAddr, nodeId, leaseToken], events && ((r) => events(record(r.rows[0]!.id))));
    return record(rows[0]!.id);
  }

  async endPush(id: number, endTime: number, reason: PushEndReason, leaseToken: number, events?: readonly OutboxEntry[]): Promise<void> {
    if ((await this.withEvents('endPush', [id, endTime, reason, leaseToken], events && ((r) => (r.rowCount ? events : [])))).rowCount) return;
    const fenced = (await this.q<{ bucket: string; channel: string }>('pushFenced', [id, leaseToken])).rows[0];
    if (fenced) throw new FencedError(fenced.bucket, fenced.channel, leaseToken);
  }

  async closeOpenPushes(endTime: number, events?: LostPushEvents): Promise<number> {
    const r = await this.withEvents<{ closed: number; pushes: LostPushesJson }>('closeOpen', [endTime], events && ((r) => (r.rows[0]!.closed > 0 ? events(r.rows[0]!.pushes) : [])));
    return r.rows[0]!.closed;
  }

  async recentPushes(bucket: string, channel: string, limit: number): Promise<PushRecord[]> {
    const { rows } = await this.q<PushRow>('recentPushes', [bucket, channel, limit]);
    return rows.map(toPush).reverse();
  }

  async addSegment(s: SegmentRecord, leaseToken: number, events?: readonly OutboxEntry[]): Promise<void> {
    const values = [s.bucket, s.channel, s.pushId, s.sequence, s.key, s.startTime, s.durationMs, s.discontinuity, leaseToken, s.initKey ?? null];
    if (!(await this.changeWithEvents('addSegment', values, events))) throw new FencedError(s.bucket, s.channel, leaseToken);
  }

  async segmentsBetween(bucket: string, channel: string, fromMs: number, toMs: number): Promise<SegmentRecord[]> {
    const { rows } = await this.q<SegmentRow>('segmentsBetween', [bucket, channel, fromMs, toMs]);
    return rows.map(toSegment);
  }

  async oldestSegments(bucket: string, beforeMs: number, limit: number, after?: SegmentRecord): Promise<SegmentRecord[]> {
    const from = after ? [after.startTime, after.channel, after.sequence] : [Number.MIN_SAFE_INTEGER, '', -1];
    return (await this.q<SegmentRow>('oldestSegments', [bucket, beforeMs, limit, ...from])).rows.map(toSegment);
  }

  async deleteSegments(segments: readonly SegmentRecord[]): Promise<void> {
    for (const bucket of new Set(segments.map((s) => s.bucket))) {
      const of = segments.filter((s) => s.bucket === bucket);
      await this.q('deleteSegments', [bucket, of.map((s) => s.channel), of.map((s) => s.startTime), of.map((s) => s.sequence)]);
    }
  }

  async initKeysInUse(bucket: string, keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    return new Set((await this.q<{ init_key: string }>('initKeysInUse', [bucket, keys])).rows.map((r) => r.init_key));
  }

  async addSnapshot(s: SnapshotRecord): Promise<void> {
    await this.q('addSnapshot', [s.bucket, s.key, s.channel, s.time]);
  }

  async oldestSnapshots(bucket: string, beforeMs: number, limit: number, after?: SnapshotRecord): Promise<SnapshotRecord[]> {
    return (await this.q<SnapshotRow>('oldestSnapshots', [bucket, beforeMs, limit, after?.time ?? Number.MIN_SAFE_INTEGER, after?.key ?? ''])).rows.map(toSnapshot);
  }

  async deleteSnapshots(bucket: string, keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.q('deleteSnapshots', [bucket, keys]);
  }

  async addHealthSummaries(rows: readonly HealthSummaryRecord[]): Promise<void> {
    if (rows.length === 0) return;
    await this.q('addHealth', [rows.map((r) => r.bucket), rows.map((r) => r.channel), rows.map((r) => r.time), rows.map((r) => r.data)]);
  }

  async healthSummaries(bucket: string, channel: string, from: number, to: number, limit: number): Promise<HealthSummaryRecord[]> {
    const { rows } = await this.q<{ bucket: string; channel: string; at: string; data: string }>('healthSummaries', [bucket, channel, from, to, limit]);
    return rows.map((r) => ({ bucket: r.bucket, channel: r.channel, time: Number(r.at), data: r.data }));
  }

  async pruneHealthSummaries(beforeMs: number): Promise<number> {
    return (await this.q('pruneHealth', [beforeMs])).rowCount ?? 0;
  }

  async recordVodPlaylist(v: VodPlaylistRecord): Promise<void> {
    await this.q('recordVod', [v.bucket, v.key, v.channel, v.fromMs, v.toMs]);
  }

  async vodPlaylists(bucket: string): Promise<VodPlaylistRecord[]> {
    return (await this.q<VodRow>('vodPlaylists', [bucket])).rows.map(toVod);
  }

  async deleteVodPlaylist(bucket: string, key: string): Promise<void> {
    await this.q('deleteVod', [bucket, key]);
  }

  async playlistStates(bucket: string): Promise<{ channel: string; name: string; state: PlaylistResume }[]> {
    const { rows } = await this.q<{ channel: string; name: string; state: string }>('playlistStates', [bucket]);
    return rows.map((r) => ({ channel: r.channel, name: r.name, state: JSON.parse(r.state) as PlaylistResume }));
  }

  async deletePlaylistState(bucket: string, channel: string, playlistName: string): Promise<void> {
    await this.q('deletePlaylist', [bucket, channel, playlistName]);
  }

  async getPlaylistState(bucket: string, channel: string, playlistName: string): Promise<PlaylistResume | undefined> {
    const row = (await this.q<{ state: string }>('getPlaylist', [bucket, channel, playlistName])).rows[0];
    return row && (JSON.parse(row.state) as PlaylistResume);
  }

  async savePlaylistState(
    bucket: string,
    channel: string,
    playlistName: string,
    state: PlaylistResume,
    leaseToken: number,
    events?: readonly OutboxEntry[],
  ): Promise<void> {
    const values = [bucket, channel, playlistName, JSON.stringify(state), Date.now(), leaseToken];
    if (!(await this.changeWithEvents('savePlaylist', values, events))) throw new FencedError(bucket, channel, leaseToken);
  }

  async acquireLease(req: LeaseRequest, events?: LostPushEvents): Promise<LeaseResult> {
    const values = [req.bucket, req.channel, req.nodeId, req.remoteAddr, req.now, req.now + req.ttlMs, req.peer ?? null];
    const { rows } = await this.withEvents<{ token: number | null; closed: number; pushes: LostPushesJson }>(
      'acquire',
      values,
      events && ((r) => (r.rows[0]!.closed > 0 ? events(r.rows[0]!.pushes) : [])),
    );
    const row = rows[0]!;
    if (row.token !== null) return { ok: true, token: row.token, closedPushes: row.closed };
    const holder = await this.leaseRow(req.bucket, req.channel);
    if (!holder) return this.acquireLease(req, events); // released between the two statements
    return { ok: false, holder };
  }

  private async leaseRow(bucket: string, channel: string): Promise<LeaseHolder | undefined> {
    const row = (await this.q<LeaseRow>('leaseRow', [bucket, channel])).rows[0];
    return row && toHolder(row);
  }

  async renewLeases(leases: readonly LeaseRenewal[], ttlMs: number, now: number): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const { rows } = await this.q<{ bucket: string; channel: string }>('renewMany', [
      now + ttlMs,
      leases.map((l) => l.bucket),
      leases.map((l) => l.channel),
      leases.map((l) => l.token),
      leases.map((l) => l.stat),
    ]);
    const renewed = new Set(rows.map((r) => `${r.bucket}\u0000${r.channel}`));
    return leases.map((l) => renewed.has(`${l.bucket}\u0000${l.channel}`));
  }

  async releaseLease(bucket: string, channel: string, token: number): Promise<void> {
    await this.q('release', [bucket, channel, token]);
  }

  async releaseNodeLeases(nodeId: string): Promise<number> {
    return (await this.q('releaseNode', [nodeId])).rowCount ?? 0;
  }

  async getLease(bucket: string, channel: string, now: number): Promise<LeaseHolder | undefined> {
    const holder = await this.leaseRow(bucket, channel);
    return holder && holder.expiresAt > now ? holder : undefined;
  }

  async requestStop(bucket: string, channel: string, reason: PushEndReason, now: number): Promise<boolean> {
    return (await this.q<{ n: number }>('requestStop', [reason, bucket, channel, now])).rows[0]!.n > 0;
  }

  async pendingStops(nodeId: string, now: number): Promise<StopRequest[]> {
    return (await this.q<StopRequest>('pendingStops', [nodeId, now])).rows;
  }

  /** LISTEN on a connection of its own, re-established after a drop. */
  onStopRequested(listener: () => void): void {
    this.stopListeners.push(listener);
    if (this.stopListeners.length === 1) void this.listen();
  }

  private async listen(): Promise<void> {
    while (!this.closed) {
      const client = new pg.Client({ connectionString: this.o.url, types });
      const lost = new Promise<void>((resolve) => {
        client.on('error', (err) => {
          this.o.onError?.(err, 'catalog LISTEN connection');
          resolve();
        });
        client.on('end', () => resolve());
      });
      try {
        await client.connect();
        client.on('notification', () => {
          for (const l of this.stopListeners) l();
        });
        await client.query(`LISTEN ${STOP_CHANNEL}`);
        this.listener = client;
        // a reconnect may have missed notifications: look now
        for (const l of this.stopListeners) l();
        await lost;
      } catch (err) {
        this.o.onError?.(err as Error, 'catalog LISTEN connection');
      }
      this.listener = undefined;
      await client.end().catch(() => {});
      if (!this.closed) await new Promise((r) => setTimeout(r, 1000).unref());
    }
  }

  async ping(): Promise<boolean> {
    try {
      await this.pool.query('SELECT 1');
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.listener?.end().catch(() => {});
    await this.pool.end();
  }
}
