/** The events the gateway notifies, and which of them the outbox's bound may drop. */
export const EVENT_TYPES = [
  'channel.created',
  'channel.updated',
  'channel.deleted',
  'channel.status',
  'publish.started',
  'publish.ended',
  'segment.stored',
  'playlist.updated',
  'segments.dropped',
  'vod.created',
  'snapshot.created',
  'channel.degraded',
  'channel.recovered',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Frequent and superseded by the next one: what a full outbox drops first (and counts). */
export const DROPPABLE_EVENTS: ReadonlySet<EventType> = new Set(['segment.stored', 'playlist.updated', 'snapshot.created']);

/** A notification target's filter: event types, or "*" for all. */
export function wants(filter: readonly string[], type: EventType): boolean {
  return filter.includes('*') || filter.includes(type);
}
