/**
 * PostgreSQL schema versions, applied in order under an advisory lock (so that nodes starting
 * at once take turns); schema_version records the last one applied. Names are COLLATE "C" so
 * that listing is in byte order, as OSS lists.
 */
export const PG_MIGRATIONS: string[] = [
  `CREATE TABLE channels (
     bucket TEXT COLLATE "C" NOT NULL,
     name TEXT COLLATE "C" NOT NULL,
     description TEXT NOT NULL,
     status TEXT NOT NULL CHECK (status IN ('enabled', 'disabled')),
     frag_duration INTEGER NOT NULL,
     frag_count INTEGER NOT NULL,
     playlist_name TEXT NOT NULL,
     last_modified BIGINT NOT NULL,
     PRIMARY KEY (bucket, name)
   );
   CREATE TABLE pushes (
     id BIGSERIAL PRIMARY KEY,
     bucket TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     start_time BIGINT NOT NULL,
     end_time BIGINT,
     end_reason TEXT,
     remote_addr TEXT NOT NULL,
     node_id TEXT NOT NULL,
     lease_token BIGINT NOT NULL
   );
   CREATE INDEX pushes_by_channel ON pushes (bucket, channel, id);
   CREATE INDEX pushes_open ON pushes (bucket, channel) WHERE end_time IS NULL;
   CREATE TABLE segments (
     bucket TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     push_id BIGINT NOT NULL,
     sequence BIGINT NOT NULL,
     object_key TEXT NOT NULL,
     start_time BIGINT NOT NULL,
     duration_ms INTEGER NOT NULL,
     discontinuity BOOLEAN NOT NULL,
     PRIMARY KEY (bucket, channel, start_time, sequence)
   );
   CREATE TABLE playlists (
     bucket TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     name TEXT COLLATE "C" NOT NULL,
     state TEXT NOT NULL,
     updated BIGINT NOT NULL,
     PRIMARY KEY (bucket, channel, name)
   );
   CREATE TABLE leases (
     bucket TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     node_id TEXT NOT NULL,
     remote_addr TEXT NOT NULL,
     token BIGINT NOT NULL,
     acquired_at BIGINT NOT NULL,
     expires_at BIGINT NOT NULL,
     stat TEXT,
     stop_request TEXT,
     PRIMARY KEY (bucket, channel)
   );
   CREATE INDEX leases_by_node ON leases (node_id, expires_at);`,
  `CREATE TABLE outbox (
     id BIGSERIAL PRIMARY KEY,
     event_id TEXT NOT NULL,
     target TEXT NOT NULL,
     bucket TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     type TEXT NOT NULL,
     droppable BOOLEAN NOT NULL,
     body TEXT NOT NULL,
     created_at BIGINT NOT NULL,
     attempts INTEGER NOT NULL DEFAULT 0,
     next_at BIGINT NOT NULL DEFAULT 0,
     last_error TEXT,
     dead_at BIGINT
   );
   CREATE INDEX outbox_by_channel ON outbox (target, bucket, channel, id) WHERE dead_at IS NULL;
   CREATE TABLE outbox_sender (
     id INTEGER PRIMARY KEY CHECK (id = 1),
     node_id TEXT NOT NULL,
     token BIGINT NOT NULL,
     expires_at BIGINT NOT NULL
   );`,
  `CREATE INDEX segments_by_age ON segments (bucket, start_time);
   CREATE TABLE vod_playlists (
     bucket TEXT COLLATE "C" NOT NULL,
     object_key TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     from_ms BIGINT NOT NULL,
     to_ms BIGINT NOT NULL,
     PRIMARY KEY (bucket, object_key)
   );`,
  `ALTER TABLE channels ADD COLUMN snapshot TEXT;`,
  `ALTER TABLE channels ADD COLUMN hls TEXT;
   ALTER TABLE segments ADD COLUMN init_key TEXT;
   ALTER TABLE leases ADD COLUMN peer TEXT;`,
  `CREATE INDEX segments_by_init_key ON segments (bucket, init_key) WHERE init_key IS NOT NULL;`,
  `CREATE TABLE snapshots (
     bucket TEXT COLLATE "C" NOT NULL,
     object_key TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     taken_at BIGINT NOT NULL,
     PRIMARY KEY (bucket, object_key)
   );
   CREATE INDEX snapshots_by_age ON snapshots (bucket, taken_at, object_key);`,
  `CREATE TABLE health_summaries (
     bucket TEXT COLLATE "C" NOT NULL,
     channel TEXT COLLATE "C" NOT NULL,
     at BIGINT NOT NULL,
     data TEXT NOT NULL,
     PRIMARY KEY (bucket, channel, at)
   );
   CREATE INDEX health_summaries_by_age ON health_summaries (at);`,
];
