/**
 * The events outbox, kept in the catalog's database so that an event is written in the same
 * transaction as the change it describes. One row per event and notification target; a
 * target's rows of one channel are delivered in id order.
 */

export interface OutboxEntry {
  /** The event's id, the same for every target (receivers de-duplicate by it). */
  eventId: string;
  /** The notification target (its URL). */
  target: string;
  bucket: string;
  channel: string;
  type: string;
  /** Whether the bound on rows may drop it (segment.stored, playlist.updated). */
  droppable: boolean;
  /** The JSON body, exactly as it will be sent and signed. */
  body: string;
  /** Epoch ms. */
  createdAt: number;
}

export interface OutboxRow extends OutboxEntry {
  id: number;
  attempts: number;
}

export interface OutboxTrim {
  /** Droppable events deleted, by type. */
  dropped: Record<string, number>;
  /** Dead events deleted. */
  deadRemoved: number;
  /** Live (not dead) rows left after the trim. */
  pending: number;
}

/** What the sender asks of the outbox. */
export interface OutboxStore {
  /** Events that describe no catalog change of their own (segments dropped, a VOD playlist made). */
  append(entries: readonly OutboxEntry[]): Promise<void>;
  /** Each (target, channel)'s first live event whose retry time has come, oldest first. */
  heads(now: number, limit: number): Promise<OutboxRow[]>;
  /** Up to `limit` next live events of `row`'s target and channel, in order (never tried: they waited behind `row`). */
  nextInChannel(row: OutboxRow, limit: number): Promise<OutboxRow[]>;
  /** Deletes delivered events, several at once (one transaction). */
  delivered(ids: readonly number[]): Promise<void>;
  retryAt(id: number, at: number, error: string): Promise<void>;
  markDead(id: number, now: number, error: string): Promise<void>;
  /** Live (not dead) rows. */
  pending(): Promise<number>;
  /** Keeps at most `maxRows` rows: dead ones go first, then the oldest droppable ones. */
  trim(maxRows: number): Promise<OutboxTrim>;
  /**
   * The cluster-wide sender lease: one node delivers at a time, so that a channel's events
   * leave in order. Taken when free or expired, renewed when held; the token, or undefined
   * when another node holds it.
   */
  acquireSender(nodeId: string, ttlMs: number, now: number): Promise<number | undefined>;
  releaseSender(nodeId: string): Promise<void>;
}

/** Builds the outbox entries of pushes the catalog closed because their node died. */
export type LostPushEvents = (closed: readonly LostPush[]) => OutboxEntry[];

export interface LostPush {
  id: number;
  bucket: string;
  channel: string;
  startTime: number;
  endTime: number;
  remoteAddr: string;
  nodeId: string;
  /** Segments indexed for the push. */
  segments: number;
}
