import { Gauge, type Registry } from 'prom-client';
import type { ChannelHealth } from './channel-health.js';
import type { HealthSample } from './health-ring.js';
import { VERDICT_RANK, type Verdict } from './health-verdict.js';

interface Watched {
  bucket: string;
  channel: string;
  health: ChannelHealth;
}

/** Seconds of samples a gauge averages (a scrape every 15 s sees a steady value, not one second's). */
const GAUGE_SECONDS = 5;

/**
 * Stream health in /metrics, read from the health monitor at scrape time (nothing is done per
 * frame): always the count of live publishes by verdict; with `perChannel`, gauges per channel
 * for at most `limit` channels (bucket and channel labels: one series set per live channel, so
 * the cardinality is bounded by the limit; the channels left out are counted).
 */
export function registerChannelMetrics(registry: Registry, watched: () => Watched[], o: { perChannel: boolean; limit: number }): void {
  new Gauge({
    name: 'livechannel_channels_by_verdict',
    help: 'Live publishes on this process by health verdict (healthy, degraded, failing)',
    labelNames: ['verdict'] as const,
    registers: [registry],
    collect() {
      const counts: Record<Verdict, number> = { healthy: 0, degraded: 0, failing: 0 };
      for (const w of watched()) counts[w.health.verdict]++;
      for (const [verdict, n] of Object.entries(counts)) this.set({ verdict }, n);
    },
  });
  if (!o.perChannel) return;
  const labels = ['bucket', 'channel'] as const;
  const perChannel = (name: string, help: string, extra: readonly string[] = []) => new Gauge({ name, help, labelNames: [...labels, ...extra], registers: [registry] });
  // registered first, so collected first: one pass fills every per-channel gauge, and they agree
  new Gauge({
    name: 'livechannel_channel_health',
    help: 'Health verdict per live channel: 0 healthy, 1 degraded, 2 failing',
    labelNames: labels,
    registers: [registry],
    collect() {
      for (const g of [this, bitrate, fps, gop, latency]) g.reset();
      const all = watched();
      dropped.set(Math.max(0, all.length - o.limit));
      for (const w of all.slice(0, o.limit)) {
        const l = { bucket: w.bucket, channel: w.channel };
        const recent = w.health.ring.last(GAUGE_SECONDS);
        const mean = (f: (s: HealthSample) => number) => (recent.length ? recent.reduce((a, s) => a + f(s), 0) / recent.length : 0);
        const max = (f: (s: HealthSample) => number) => Math.max(0, ...recent.map(f));
        this.set(l, VERDICT_RANK[w.health.verdict]);
        bitrate.set({ ...l, track: 'video' }, mean((s) => s.videoBitrate));
        bitrate.set({ ...l, track: 'audio' }, mean((s) => s.audioBitrate));
        fps.set(l, mean((s) => s.frameRate));
        gop.set(l, max((s) => s.keyframeIntervalMs) / 1000);
        latency.set(l, max((s) => s.storedLatencyMs) / 1000);
      }
    },
  });
  const bitrate = perChannel('livechannel_channel_bitrate_bits_per_second', 'Bitrate received per live channel and track (video, audio), mean of the last 5 s', ['track']);
  const fps = perChannel('livechannel_channel_frame_rate', 'Video frames received per second per live channel, mean of the last 5 s');
  const gop = perChannel('livechannel_channel_keyframe_interval_seconds', 'Longest keyframe interval per live channel in the last 5 s');
  const latency = perChannel('livechannel_channel_segment_latency_seconds', 'Longest segment cut-to-stored time per live channel in the last 5 s');
  const dropped = new Gauge({ name: 'livechannel_channel_series_dropped', help: 'Live channels left out of the per-channel series (metrics.perChannelLimit)', registers: [registry] });
}
