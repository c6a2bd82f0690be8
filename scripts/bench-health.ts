// npm run bench:health -- [--channels 150] [--seconds 600]
// What stream health costs the ingest, alone: each channel's media calls (30 video frames and
// 43 audio frames a second) and its once-a-second sample and verdict, over simulated time,
// timed with the process's CPU clock; and the memory of an hour of samples per channel.
import { parseArgs } from 'node:util';
import { ChannelHealth } from '../src/health/channel-health.js';
import { HealthRing } from '../src/health/health-ring.js';

const { values } = parseArgs({ options: { channels: { type: 'string', default: '150' }, seconds: { type: 'string', default: '600' } } });
const CHANNELS = Number(values.channels);
const SECONDS = Number(values.seconds);
const T0 = Date.now();

function simulate(channels: ChannelHealth[], seconds: number): { mediaUs: number; takeUs: number } {
  let media = 0n;
  let take = 0n;
  for (let s = 0; s < seconds; s++) {
    const m0 = process.hrtime.bigint();
    for (const h of channels) {
      for (let f = 0; f < 30; f++) h.media(true, f === 0 && s % 2 === 0, s * 1000 + f * 33, 10_800, T0 + s * 1000 + f * 33);
      for (let a = 0; a < 43; a++) h.media(false, false, s * 1000 + a * 23, 370, T0 + s * 1000 + a * 23);
    }
    const m1 = process.hrtime.bigint();
    for (const h of channels) {
      if (s % 2 === 1) h.segmentStored(2000, 12);
      h.take(T0 + s * 1000);
    }
    take += process.hrtime.bigint() - m1;
    media += m1 - m0;
  }
  return { mediaUs: Number(media) / 1000, takeUs: Number(take) / 1000 };
}

const channels = Array.from({ length: CHANNELS }, () => new ChannelHealth(2000));
simulate(channels, 120); // warm up: the JIT, and rings with history to judge
const cpu0 = process.cpuUsage();
const { mediaUs, takeUs } = simulate(channels, SECONDS);
const cpu = process.cpuUsage(cpu0);
const perSecond = (us: number) => us / SECONDS; // µs of work per wall second of stream time
const share = (us: number) => (perSecond(us) / 1e6) * 100;
console.log(`${CHANNELS} channels × ${SECONDS} simulated seconds (30 video + 43 audio messages and one sample a second each); node ${process.version}`);
console.log(`media calls: ${(mediaUs / (CHANNELS * SECONDS * 73) * 1000).toFixed(1)} ns each → ${share(mediaUs).toFixed(3)} % of a core for ${CHANNELS} live streams`);
console.log(`sample + verdict: ${(takeUs / (CHANNELS * SECONDS)).toFixed(1)} µs per channel-second → ${share(takeUs).toFixed(3)} % of a core for ${CHANNELS} live streams`);
console.log(`all together (process CPU clock, GC included): ${share((cpu.user + cpu.system)).toFixed(3)} % of a core`);
console.log(`memory: ${(new HealthRing(3600).bytes / 1024).toFixed(0)} KiB per channel for the hour of one-second samples (allocated when the publish starts)`);
