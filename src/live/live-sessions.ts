/** What the API needs to know about live pushes; the RTMP ingest provides it. */
import type { VideoCodec } from '../media/packager.js';

export interface LiveVideoStat {
  width: number;
  height: number;
  frameRate: number;
  /** Bytes per second over the last few seconds. */
  bandwidth: number;
  codec: VideoCodec;
}

export interface LiveAudioStat {
  sampleRate: number;
  bandwidth: number;
  codec: 'AAC';
}

/** The newest snapshot a live push stored (channels with the Snapshot option). */
export interface LiveSnapshotStat {
  bucket: string;
  key: string;
  /** Epoch ms of the keyframe. */
  time: number;
  width: number;
  height: number;
}

/** How the publisher's link is doing: the protocol, and SRT's own figures. */
export interface LiveLinkStat {
  protocol: 'rtmp' | 'rtmps' | 'srt';
  rttMs?: number;
  latencyMs?: number;
  packetsReceived?: number;
  packetsLost?: number;
  packetsRetransmitted?: number;
  packetsDropped?: number;
  bufferedPackets?: number;
}

export interface LiveStat {
  /** Epoch ms when the publisher connected. */
  connectedTime: number;
  remoteAddr: string;
  link?: LiveLinkStat;
  video?: LiveVideoStat;
  audio?: LiveAudioStat;
  snapshot?: LiveSnapshotStat;
}

export interface LiveSessions {
  /** The live push on a channel, on whichever node holds it, or undefined when nobody is pushing. */
  stat(bucket: string, channel: string): Promise<LiveStat | undefined>;
  /** Ends the push on a channel (it was disabled), on whichever node holds it. */
  disconnect(bucket: string, channel: string, reason: string): Promise<void>;
}

/** Until ingest runs: nobody is ever live. */
export const noLiveSessions: LiveSessions = {
  stat: async () => undefined,
  disconnect: async () => {},
};
