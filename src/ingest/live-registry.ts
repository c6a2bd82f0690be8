import type { LiveStat } from '../live/live-sessions.js';
import type { LiveSession } from './live-session.js';

const keyOf = (bucket: string, channel: string) => `${bucket}\u0000${channel}`;

/** This node's live publishes, one per channel; what the API asks about and can stop. */
export class LiveRegistry {
  private readonly sessions = new Map<string, LiveSession>();
  /** Channels whose publish is being set up (claimed before any await). */
  private readonly claims = new Set<string>();

  /** Reserves a channel for a new publisher; false when it is taken. */
  claim(bucket: string, channel: string): boolean {
    const key = keyOf(bucket, channel);
    if (this.claims.has(key) || this.sessions.has(key)) return false;
    this.claims.add(key);
    return true;
  }

  activate(session: LiveSession): void {
    const key = keyOf(session.bucket, session.channelName);
    this.claims.delete(key);
    this.sessions.set(key, session);
  }

  unclaim(bucket: string, channel: string): void {
    this.claims.delete(keyOf(bucket, channel));
  }

  remove(session: LiveSession): void {
    const key = keyOf(session.bucket, session.channelName);
    if (this.sessions.get(key) === session) this.sessions.delete(key);
  }

  get(bucket: string, channel: string): LiveSession | undefined {
    return this.sessions.get(keyOf(bucket, channel));
  }

  publisherOf(bucket: string, channel: string): string | undefined {
    const key = keyOf(bucket, channel);
    if (this.claims.has(key)) return 'a publisher that is connecting';
    return this.sessions.get(key)?.remoteAddr;
  }

  stat(bucket: string, channel: string): LiveStat | undefined {
    return this.get(bucket, channel)?.stat();
  }

  /** Stops the publisher of a channel that was disabled. */
  async disconnect(bucket: string, channel: string, reason: string): Promise<void> {
    await this.get(bucket, channel)?.publisher?.stop('disabled', `Publishing stopped: ${reason}.`);
  }

  all(): LiveSession[] {
    return [...this.sessions.values()];
  }

  get size(): number {
    return this.sessions.size;
  }
}
