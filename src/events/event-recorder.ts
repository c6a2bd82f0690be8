import { randomUUID } from 'node:crypto';
import type { LostPush, OutboxEntry } from '../catalog/outbox.js';
import type { NotificationTarget } from '../config.js';
import type { Metrics } from '../metrics.js';
import { DROPPABLE_EVENTS, wants, type EventType } from './event-types.js';

/**
 * Turns what happened into outbox entries: one per notification target that wants the
 * event, with the JSON body that will be sent (and signed) as is. No targets: no entries, and
 * the catalog writes nothing extra.
 */
export class EventRecorder {
  constructor(
    private readonly targets: readonly NotificationTarget[],
    private readonly nodeId: string,
    private readonly metrics: Metrics,
    private readonly now: () => number = Date.now,
  ) {}

  /** Told after entries are made (the sender looks for them once they are committed). */
  onRecorded: (() => void) | undefined;

  get enabled(): boolean {
    return this.targets.length > 0;
  }

  /**
   * `fields` may be a function: it is called only when some target wants the event (an etag is
   * an MD5 of the whole object, which nobody should pay for when nobody listens).
   */
  entries(type: EventType, bucket: string, channel: string, fields: Record<string, unknown> | (() => Record<string, unknown>) = {}): OutboxEntry[] {
    const targets = this.targets.filter((t) => wants(t.events, type));
    if (targets.length === 0) return [];
    if (typeof fields === 'function') fields = fields();
    const eventId = randomUUID();
    const createdAt = this.now();
    const body = JSON.stringify({ id: eventId, type, time: new Date(createdAt).toISOString(), bucket, channel, nodeId: this.nodeId, ...fields });
    this.metrics.eventsQueued.inc({ type }, targets.length);
    this.onRecorded?.();
    return targets.map((t) => ({ eventId, target: t.url, bucket, channel, type, droppable: DROPPABLE_EVENTS.has(type), body, createdAt }));
  }

  /** publish.ended for pushes whose node died: what it counted died with it (bytesIn, dropped: null). */
  readonly lostPushes = (pushes: readonly LostPush[]): OutboxEntry[] =>
    pushes.flatMap((p) =>
      this.entries('publish.ended', p.bucket, p.channel, {
        pushId: p.id,
        reason: 'node-lost',
        remoteAddr: p.remoteAddr,
        bytesIn: null,
        segments: p.segments,
        dropped: null,
        durationMs: p.endTime - p.startTime,
        lostNodeId: p.nodeId,
      }),
    );
}
