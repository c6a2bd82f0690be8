import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type { LostPush, LostPushEvents, OutboxEntry } from './outbox.js';
import { hlsColumn, snapshotColumn, toChannel, toHolder, toPush, toSegment, toSnapshot, toVod, type ChannelRow, type LeaseRow, type PushRow, type SegmentRow, type SnapshotRow, type VodRow } from './rows.js';
import { SqliteOutbox } from './sqlite-outbox.js';
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

/** Schema versions, applied in order; PRAGMA user_version records the last one applied. */
export const MIGRATIONS: string[] = [
  `CREATE TABLE channels (
     bucket TEXT NOT NULL,
     name TEXT NOT NULL,
     description TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
     frag_duration INTEGER NOT NULL,
     frag_count INTEGER NOT NULL,
     playlist_name TEXT NOT NULL,
     last_modified INTEGER NOT NULL,
     PRIMARY KEY (bucket, name)
   ) WITHOUT ROWID;
   CREATE TABLE pushes (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     bucket TEXT NOT NULL,
     channel TEXT NOT NULL,
     start_time INTEGER NOT NULL,
     end_time INTEGER,
     remote_addr TEXT NOT NULL
   );
   CREATE INDEX pushes_by_channel ON pushes (bucket, channel, id);
   CREATE TABLE segments (
     bucket TEXT NOT NULL,
     channel TEXT NOT NULL,
     push_id INTEGER NOT NULL,
     sequence INTEGER NOT NULL,
     object_key TEXT NOT NULL,
     start_time INTEGER NOT NULL,
     duration_ms INTEGER NOT NULL,
     discontinuity INTEGER NOT NULL,
     PRIMARY KEY (bucket, channel, start_time, sequence)
   ) WITHOUT ROWID;`,
  `CREATE TABLE playlists (
     bucket TEXT NOT NULL,
     channel TEXT NOT NULL,
     name TEXT NOT NULL,
     state TEXT NOT NULL,
     updated INTEGER NOT NULL,
     PRIMARY KEY (bucket, channel, name)
   ) WITHOUT ROWID;`,
  `ALTER TABLE pushes ADD COLUMN end_reason TEXT;`,
  `ALTER TABLE pushes ADD COLUMN node_id TEXT NOT NULL DEFAULT '';
   ALTER TABLE pushes ADD COLUMN lease_token INTEGER NOT NULL DEFAULT 0;
   CREATE INDEX pushes_open ON pushes (bucket, channel) WHERE end_time IS NULL;
   CREATE TABLE leases (
     bucket TEXT NOT NULL,
     channel TEXT NOT NULL,
     node_id TEXT NOT NULL,
     remote_addr TEXT NOT NULL,
     token INTEGER NOT NULL,
     acquired_at INTEGER NOT NULL,
     expires_at INTEGER NOT NULL,
     stat TEXT,
     stop_request TEXT,
     PRIMARY KEY (bucket, channel)
   ) WITHOUT ROWID;
   CREATE INDEX leases_by_node ON leases (node_id, expires_at);`,
  `CREATE TABLE outbox (
     id INTEGER PRIMARY KEY AUTOINCREMENT,
     event_id TEXT NOT NULL,
     target TEXT NOT NULL,
     bucket TEXT NOT NULL,
     channel TEXT NOT NULL,
     type TEXT NOT NULL,
     droppable INTEGER NOT NULL,
     body TEXT NOT NULL,
     created_at INTEGER NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at INTEGER NOT NULL DEFAULT 0,
     last_error TEXT,
     dead_at INTEGER
   );
   CREATE INDEX outbox_by_channel ON outbox (target, bucket, channel, id) WHERE dead_at IS NULL;
   CREATE TABLE outbox_sender (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     node_id TEXT NOT NULL,
     token INTEGER NOT NULL,
     expires_at INTEGER NOT NULL
   );`,
  `CREATE INDEX segments_by_age ON segments (bucket, start_time);
   CREATE TABLE vod_playlists (
     bucket TEXT NOT NULL,
     object_key TEXT NOT NULL,
     channel TEXT NOT NULL,
     from_ms INTEGER NOT NULL,
     to_ms INTEGER NOT NULL,
     PRIMARY KEY (bucket, object_key)
   ) WITHOUT ROWID;`,
  `ALTER TABLE channels ADD COLUMN snapshot TEXT;`,
  `ALTER TABLE channels ADD COLUMN hls TEXT;
   ALTER TABLE segments ADD COLUMN init_key TEXT;
   ALTER TABLE leases ADD COLUMN peer TEXT;`,
  `CREATE INDEX segments_by_init_key ON segments (bucket, init_key) WHERE init_key IS NOT NULL;`,
  `CREATE TABLE snapshots (
     bucket TEXT NOT NULL,
     object_key TEXT NOT NULL,
     channel TEXT NOT NULL,
     taken_at INTEGER NOT NULL,
     PRIMARY KEY (bucket, object_key)
   ) WITHOUT ROWID;
   CREATE INDEX snapshots_by_age ON snapshots (bucket, taken_at, object_key);`,
  `CREATE TABLE health_summaries (
     bucket TEXT NOT NULL,
     channel TEXT NOT NULL,
     at INTEGER NOT NULL,
     data TEXT NOT NULL,
     PRIMARY KEY (bucket, channel, at)
   ) WITHOUT ROWID;
   CREATE INDEX health_summaries_by_age ON health_summaries (at);`,
];

/** A statement's extra condition: the channel's lease is (still) held with this token. */
const HOLDS_LEASE = 'EXISTS (SELECT 1 FROM leases l WHERE l.bucket = @bucket AND l.channel = @channel AND l.token = @token)';
/** What an UPDATE of pushes returns about the ones it closed, as a LostPush without its segment count. */
const CLOSED_PUSH = 'RETURNING id, bucket, channel, start_time AS startTime, end_time AS endTime, remote_addr AS remoteAddr, node_id AS nodeId';
type ClosedPush = Omit<LostPush, 'segments'>;


/** The embedded catalog: one SQLite file (WAL mode). */
export class SqliteCatalog implements Catalog {
  private readonly db: Database.Database;
  private readonly stmts;
  readonly outbox: SqliteOutbox;

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new Database(file);
    // first: processes opening one new file at once (workers) wait for each other's set-up
    this.db.pragma('busy_timeout = 5000');
    enableWal(this.db);
    this.db.pragma('synchronous = NORMAL');
    migrate(this.db);
    const db = this.db;
    this.outbox = new SqliteOutbox(db);
    this.stmts = {
      getChannel: db.prepare<[string, string], ChannelRow>('SELECT * FROM channels WHERE bucket = ? AND name = ?'),
      putChannel: db.prepare(
        `INSERT INTO channels (bucket, name, description, status, frag_duration, frag_count, playlist_name, last_modified, snapshot, hls)
         VALUES (@bucket, @name, @description, @status, @fragDuration, @fragCount, @playlistName, @lastModified, @snapshot, @hls)
         ON CONFLICT (bucket, name) DO UPDATE SET description = excluded.description, status = excluded.status,
           frag_duration = excluded.frag_duration, frag_count = excluded.frag_count,
           playlist_name = excluded.playlist_name, last_modified = excluded.last_modified, snapshot = excluded.snapshot, hls = excluded.hls`,
      ),
      setStatus: db.prepare('UPDATE channels SET status = ?, last_modified = ? WHERE bucket = ? AND name = ?'),
      deleteChannel: db.prepare('DELETE FROM channels WHERE bucket = ? AND name = ?'),
      listChannels: db.prepare<[string, string, string, string, number], ChannelRow>(
        `SELECT * FROM channels WHERE bucket = ? AND substr(name, 1, length(?)) = ? AND name > ?
         ORDER BY name LIMIT ?`,
      ),
      startPush: db.prepare('INSERT INTO pushes (bucket, channel, start_time, remote_addr, node_id, lease_token) VALUES (?, ?, ?, ?, ?, ?)'),
      endPush: db.prepare(
        `UPDATE pushes SET end_time = @endTime, end_reason = @reason WHERE id = @id AND end_time IS NULL
         AND EXISTS (SELECT 1 FROM leases l WHERE l.bucket = pushes.bucket AND l.channel = pushes.channel AND l.token = @token)`,
      ),
      pushById: db.prepare<[number], PushRow>('SELECT * FROM pushes WHERE id = ?'),
      closeOpen: db.prepare<[{ now: number }], ClosedPush>(
        `UPDATE pushes SET end_time = max(start_time, @now), end_reason = 'interrupted' WHERE end_time IS NULL
         AND NOT EXISTS (SELECT 1 FROM leases l WHERE l.bucket = pushes.bucket AND l.channel = pushes.channel
                         AND l.token = pushes.lease_token AND l.expires_at > @now) ${CLOSED_PUSH}`,
      ),
      closeOpenOfChannel: db.prepare<[number, string, string], ClosedPush>(
        `UPDATE pushes SET end_time = max(start_time, ?), end_reason = 'interrupted' WHERE bucket = ? AND channel = ? AND end_time IS NULL ${CLOSED_PUSH}`,
      ),
      acquire: db.prepare<[Omit<LeaseRequest, 'peer'> & { expiresAt: number; peer: string | null }], { token: number }>(
        `INSERT INTO leases (bucket, channel, node_id, remote_addr, token, acquired_at, expires_at, peer)
         VALUES (@bucket, @channel, @nodeId, @remoteAddr, 1, @now, @expiresAt, @peer)
         ON CONFLICT (bucket, channel) DO UPDATE SET node_id = excluded.node_id, remote_addr = excluded.remote_addr, peer = excluded.peer,
           token = leases.token + 1, acquired_at = excluded.acquired_at, expires_at = excluded.expires_at,
           stat = NULL, stop_request = NULL
         WHERE leases.expires_at <= excluded.acquired_at
         RETURNING token`,
      ),
      leaseRow: db.prepare<[string, string], LeaseRow>('SELECT * FROM leases WHERE bucket = ? AND channel = ?'),
      renew: db.prepare('UPDATE leases SET expires_at = ?, stat = ? WHERE bucket = ? AND channel = ? AND token = ? AND expires_at > 0'),
      release: db.prepare('UPDATE leases SET expires_at = 0, stat = NULL, stop_request = NULL WHERE bucket = ? AND channel = ? AND token = ?'),
      releaseNode: db.prepare('UPDATE leases SET expires_at = 0, stat = NULL, stop_request = NULL WHERE node_id = ? AND expires_at > 0'),
      requestStop: db.prepare('UPDATE leases SET stop_request = ? WHERE bucket = ? AND channel = ? AND expires_at > ?'),
      pendingStops: db.prepare<[string, number], { bucket: string; channel: string; token: number; reason: PushEndReason }>(
        `SELECT l.bucket, l.channel, l.token, coalesce(l.stop_request, 'disabled') AS reason
         FROM leases l LEFT JOIN channels c ON c.bucket = l.bucket AND c.name = l.channel
         WHERE l.node_id = ? AND l.expires_at > ? AND (l.stop_request IS NOT NULL OR c.name IS NULL OR c.status = 'disabled')`,
      ),
      recentPushes: db.prepare<[string, string, number], PushRow>(
        'SELECT * FROM pushes WHERE bucket = ? AND channel = ? ORDER BY id DESC LIMIT ?',
      ),
      addSegment: db.prepare(
        `INSERT OR REPLACE INTO segments (bucket, channel, push_id, sequence, object_key, start_time, duration_ms, discontinuity, init_key)
         SELECT @bucket, @channel, @pushId, @sequence, @key, @startTime, @durationMs, @discontinuity, @initKey WHERE ${HOLDS_LEASE}`,
      ),
      segmentsBetween: db.prepare<[string, string, number, number], SegmentRow>(
        `SELECT * FROM segments WHERE bucket = ? AND channel = ? AND start_time BETWEEN ? AND ?
         ORDER BY push_id, sequence`,
      ),
      oldestSegments: db.prepare<[string, number, number, string, number, number], SegmentRow>(
        `SELECT * FROM segments WHERE bucket = ? AND start_time < ? AND (start_time, channel, sequence) > (?, ?, ?)
         ORDER BY start_time, channel, sequence LIMIT ?`,
      ),
      deleteSegment: db.prepare('DELETE FROM segments WHERE bucket = ? AND channel = ? AND start_time = ? AND sequence = ?'),
      addSnapshot: db.prepare('INSERT OR REPLACE INTO snapshots (bucket, object_key, channel, taken_at) VALUES (@bucket, @key, @channel, @time)'),
      oldestSnapshots: db.prepare<[string, number, number, string, number], SnapshotRow>(
        `SELECT * FROM snapshots WHERE bucket = ? AND taken_at < ? AND (taken_at, object_key) > (?, ?)
         ORDER BY taken_at, object_key LIMIT ?`,
      ),
      deleteSnapshot: db.prepare('DELETE FROM snapshots WHERE bucket = ? AND object_key = ?'),
      addHealth: db.prepare('INSERT OR REPLACE INTO health_summaries (bucket, channel, at, data) VALUES (@bucket, @channel, @time, @data)'),
      healthSummaries: db.prepare<[string, string, number, number, number], HealthSummaryRecord>(
        'SELECT bucket, channel, at AS time, data FROM health_summaries WHERE bucket = ? AND channel = ? AND at >= ? AND at < ? ORDER BY at LIMIT ?',
      ),
      pruneHealth: db.prepare('DELETE FROM health_summaries WHERE at < ?'),
      initKeysInUse: db.prepare<[string, string], { init_key: string }>(
        'SELECT DISTINCT init_key FROM segments WHERE bucket = ? AND init_key IN (SELECT value FROM json_each(?))',
      ),
      recordVod: db.prepare(
        `INSERT INTO vod_playlists (bucket, object_key, channel, from_ms, to_ms) VALUES (@bucket, @key, @channel, @fromMs, @toMs)
         ON CONFLICT (bucket, object_key) DO UPDATE SET channel = excluded.channel, from_ms = excluded.from_ms, to_ms = excluded.to_ms`,
      ),
      vodPlaylists: db.prepare<[string], VodRow>('SELECT * FROM vod_playlists WHERE bucket = ? ORDER BY object_key'),
      deleteVod: db.prepare('DELETE FROM vod_playlists WHERE bucket = ? AND object_key = ?'),
      deletePlaylist: db.prepare('DELETE FROM playlists WHERE bucket = ? AND channel = ? AND name = ?'),
      playlistStates: db.prepare<[string], { channel: string; name: string; state: string }>('SELECT channel, name, state FROM playlists WHERE bucket = ?'),
      getPlaylist: db.prepare<[string, string, string], { state: string }>('SELECT state FROM playlists WHERE bucket = ? AND channel = ? AND name = ?'),
      savePlaylist: db.prepare(
        `INSERT INTO playlists (bucket, channel, name, state, updated) SELECT @bucket, @channel, @name, @state, @updated WHERE ${HOLDS_LEASE}
         ON CONFLICT (bucket, channel, name) DO UPDATE SET state = excluded.state, updated = excluded.updated`,
      ),
    };
  }

  async getChannel(bucket: string, name: string): Promise<Channel | undefined> {
    const row = this.stmts.getChannel.get(bucket, name);
    return row && toChannel(row);
  }

  /** Runs `change` and, when it changed something, stores its events, in one transaction. */
  private withEvents(events: readonly OutboxEntry[] | undefined, change: () => boolean): boolean {
    if (!events?.length) return change();
    return this.db.transaction(() => {
      const changed = change();
      if (changed) this.outbox.insert(events);
      return changed;
    })();
  }

  async putChannel(bucket: string, name: string, config: ChannelConfig, now = Date.now(), events?: (existed: boolean) => OutboxEntry[]): Promise<Channel> {
    const channel: Channel = { bucket, name, ...config, lastModified: now };
    const row = { ...channel, snapshot: snapshotColumn(config), hls: hlsColumn(config) };
    if (!events) {
      this.stmts.putChannel.run(row);
      return channel;
    }
    this.db.transaction(() => {
      const existed = this.stmts.getChannel.get(bucket, name) !== undefined;
      this.stmts.putChannel.run(row);
      this.outbox.insert(events(existed));
    }).immediate();
    return channel;
  }

  async setChannelStatus(bucket: string, name: string, status: ChannelStatus, now = Date.now(), events?: readonly OutboxEntry[]): Promise<boolean> {
    return this.withEvents(events, () => this.stmts.setStatus.run(status, now, bucket, name).changes > 0);
  }

  async deleteChannel(bucket: string, name: string, events?: readonly OutboxEntry[]): Promise<boolean> {
    return this.withEvents(events, () => this.stmts.deleteChannel.run(bucket, name).changes > 0);
  }

  async listChannels(bucket: string, q: ListChannelsQuery): Promise<{ channels: Channel[]; truncated: boolean }> {
    const rows = this.stmts.listChannels.all(bucket, q.prefix, q.prefix, q.marker, q.maxKeys + 1);
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
    return this.db.transaction((): PushRecord => {
      const id = Number(this.stmts.startPush.run(bucket, channel, startTime, remoteAddr, nodeId, leaseToken).lastInsertRowid);
      const push: PushRecord = { id, bucket, channel, startTime, remoteAddr, nodeId };
      if (events) this.outbox.insert(events(push));
      return push;
    })();
  }

  async endPush(id: number, endTime: number, reason: PushEndReason, leaseToken: number, events?: readonly OutboxEntry[]): Promise<void> {
    if (this.withEvents(events, () => this.stmts.endPush.run({ id, endTime, reason, token: leaseToken }).changes > 0)) return;
    const push = this.stmts.pushById.get(id);
    if (push && this.stmts.leaseRow.get(push.bucket, push.channel)?.token !== leaseToken) throw new FencedError(push.bucket, push.channel, leaseToken);
  }

  async closeOpenPushes(endTime: number, events?: LostPushEvents): Promise<number> {
    return this.db.transaction(() => {
      const closed = this.stmts.closeOpen.all({ now: endTime });
      if (events && closed.length > 0) this.outbox.insert(events(this.outbox.lostPushes(closed)));
      return closed.length;
    }).immediate();
  }

  async acquireLease(req: LeaseRequest, events?: LostPushEvents): Promise<LeaseResult> {
    return this.db.transaction((): LeaseResult => {
      const row = this.stmts.acquire.get({ ...req, peer: req.peer ?? null, expiresAt: req.now + req.ttlMs });
      if (!row) return { ok: false, holder: toHolder(this.stmts.leaseRow.get(req.bucket, req.channel)!) };
      // whatever push is still open on the channel belonged to an owner whose lease expired
      const closed = this.stmts.closeOpenOfChannel.all(req.now, req.bucket, req.channel);
      if (events && closed.length > 0) this.outbox.insert(events(this.outbox.lostPushes(closed)));
      return { ok: true, token: row.token, closedPushes: closed.length };
    }).immediate();
  }

  async renewLeases(leases: readonly LeaseRenewal[], ttlMs: number, now: number): Promise<boolean[]> {
    return this.db.transaction(() => leases.map((l) => this.stmts.renew.run(now + ttlMs, l.stat, l.bucket, l.channel, l.token).changes > 0))();
  }

  async releaseLease(bucket: string, channel: string, token: number): Promise<void> {
    this.stmts.release.run(bucket, channel, token);
  }

  /** Releases every lease a node holds (its previous run died holding them). */
  async releaseNodeLeases(nodeId: string): Promise<number> {
    return this.stmts.releaseNode.run(nodeId).changes;
  }

  async getLease(bucket: string, channel: string, now: number): Promise<LeaseHolder | undefined> {
    const row = this.stmts.leaseRow.get(bucket, channel);
    return row && row.expires_at > now ? toHolder(row) : undefined;
  }

  async requestStop(bucket: string, channel: string, reason: PushEndReason, now: number): Promise<boolean> {
    return this.stmts.requestStop.run(reason, bucket, channel, now).changes > 0;
  }

  async pendingStops(nodeId: string, now: number): Promise<StopRequest[]> {
    return this.stmts.pendingStops.all(nodeId, now);
  }

  async recentPushes(bucket: string, channel: string, limit: number): Promise<PushRecord[]> {
    return this.stmts.recentPushes.all(bucket, channel, limit).map(toPush).reverse();
  }

  async addSegment(s: SegmentRecord, leaseToken: number, events?: readonly OutboxEntry[]): Promise<void> {
    const added = this.withEvents(events, () => this.stmts.addSegment.run({ ...s, discontinuity: s.discontinuity ? 1 : 0, initKey: s.initKey ?? null, token: leaseToken }).changes > 0);
    if (!added) throw new FencedError(s.bucket, s.channel, leaseToken);
  }

  async segmentsBetween(bucket: string, channel: string, fromMs: number, toMs: number): Promise<SegmentRecord[]> {
    return this.stmts.segmentsBetween.all(bucket, channel, fromMs, toMs).map(toSegment);
  }

  async oldestSegments(bucket: string, beforeMs: number, limit: number, after?: SegmentRecord): Promise<SegmentRecord[]> {
    const from = after ? [after.startTime, after.channel, after.sequence] as const : [Number.MIN_SAFE_INTEGER, '', -1] as const;
    return this.stmts.oldestSegments.all(bucket, beforeMs, from[0], from[1], from[2], limit).map(toSegment);
  }

  async deleteSegments(segments: readonly SegmentRecord[]): Promise<void> {
    this.db.transaction(() => segments.forEach((s) => this.stmts.deleteSegment.run(s.bucket, s.channel, s.startTime, s.sequence)))();
  }

  async initKeysInUse(bucket: string, keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set();
    return new Set(this.stmts.initKeysInUse.all(bucket, JSON.stringify(keys)).map((r) => r.init_key));
  }

  async addSnapshot(snapshot: SnapshotRecord): Promise<void> {
    this.stmts.addSnapshot.run(snapshot);
  }

  async oldestSnapshots(bucket: string, beforeMs: number, limit: number, after?: SnapshotRecord): Promise<SnapshotRecord[]> {
    return this.stmts.oldestSnapshots.all(bucket, beforeMs, after?.time ?? Number.MIN_SAFE_INTEGER, after?.key ?? '', limit).map(toSnapshot);
  }

  async deleteSnapshots(bucket: string, keys: readonly string[]): Promise<void> {
    this.db.transaction(() => keys.forEach((key) => this.stmts.deleteSnapshot.run(bucket, key)))();
  }

  async addHealthSummaries(rows: readonly HealthSummaryRecord[]): Promise<void> {
    this.db.transaction(() => rows.forEach((row) => this.stmts.addHealth.run(row)))();
  }

  async healthSummaries(bucket: string, channel: string, from: number, to: number, limit: number): Promise<HealthSummaryRecord[]> {
    return this.stmts.healthSummaries.all(bucket, channel, from, to, limit);
  }

  async pruneHealthSummaries(beforeMs: number): Promise<number> {
    return this.stmts.pruneHealth.run(beforeMs).changes;
  }

  async recordVodPlaylist(vod: VodPlaylistRecord): Promise<void> {
    this.stmts.recordVod.run(vod);
  }

  async vodPlaylists(bucket: string): Promise<VodPlaylistRecord[]> {
    return this.stmts.vodPlaylists.all(bucket).map(toVod);
  }

  async deleteVodPlaylist(bucket: string, key: string): Promise<void> {
    this.stmts.deleteVod.run(bucket, key);
  }

  async playlistStates(bucket: string): Promise<{ channel: string; name: string; state: PlaylistResume }[]> {
    return this.stmts.playlistStates.all(bucket).map((r) => ({ channel: r.channel, name: r.name, state: JSON.parse(r.state) as PlaylistResume }));
  }

  async deletePlaylistState(bucket: string, channel: string, playlistName: string): Promise<void> {
    this.stmts.deletePlaylist.run(bucket, channel, playlistName);
  }

  async getPlaylistState(bucket: string, channel: string, playlistName: string): Promise<PlaylistResume | undefined> {
    const row = this.stmts.getPlaylist.get(bucket, channel, playlistName);
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
    const row = { bucket, channel, name: playlistName, state: JSON.stringify(state), updated: Date.now(), token: leaseToken };
    if (!this.withEvents(events, () => this.stmts.savePlaylist.run(row).changes > 0)) throw new FencedError(bucket, channel, leaseToken);
  }

  async ping(): Promise<boolean> {
    return this.db.open;
  }

  /** PRAGMA integrity_check result ("ok" when healthy). */
  integrityCheck(): string {
    return String(this.db.pragma('integrity_check', { simple: true }));
  }

  get schemaVersion(): number {
    return Number(this.db.pragma('user_version', { simple: true }));
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}

/**
 * Switches a file to WAL mode. The switch needs the file to itself, and SQLite answers
 * SQLITE_BUSY at once (no busy handler) while another process holds it, as workers starting
 * together on a new file do: retried here for up to 5 s. Start-up only, so sleeping is fine.
 */
function enableWal(db: Database.Database): void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; ; attempt++) {
    try {
      db.pragma('journal_mode = WAL');
      return;
    } catch (err) {
      if ((err as { code?: string }).code !== 'SQLITE_BUSY' || attempt >= 100) throw err;
      Atomics.wait(sleeper, 0, 0, 50);
    }
  }
}

/**
 * Brings the schema up to date in one write transaction taken before the version is read,
 * so that processes starting at once on one file (workers) migrate it once, in turn.
 */
export function migrate(db: Database.Database): void {
  db.transaction(() => {
    const current = Number(db.pragma('user_version', { simple: true }));
    if (current > MIGRATIONS.length) {
      throw new Error(`catalog schema version ${current} is newer than this build supports (${MIGRATIONS.length})`);
    }
    for (let v = current; v < MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}
