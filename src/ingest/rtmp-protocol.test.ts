import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FIXTURE_DIR } from '../../scripts/lib/fixtures.js';
import { c0c1, mediaMessages, message, publishCommands } from '../../scripts/lib/rtmp-wire.js';
import { prng } from '../../test/support/packager-run.js';
import { parseFlv, TAG_SCRIPT } from '../media/flv.js';
import { createRtmpProtocol, RtmpProtocolError } from './rtmp-protocol.js';

const WRAP_START = 2 ** 32 - 3000;

/** A publisher's whole byte stream: handshake, commands, then the fixture's tags with timestamps crossing 2^32. */
function clientStream(): { bytes: Buffer; tags: { type: number; timestamp: number; length: number }[] } {
  // mediaMessages puts video on chunk stream 400 (bytes 80,1) and audio on 655 (bytes 79,2):
  // both need the 3-byte basic header, and node-media-server's (64 + b1 + b2) << 8 would merge them.
  const tags = parseFlv(readFileSync(`${FIXTURE_DIR}/main.flv`)).filter((t) => t.type !== TAG_SCRIPT).slice(0, 400);
  const bytes = Buffer.concat([c0c1(), Buffer.alloc(1536), publishCommands('rtmp://127.0.0.1/live', 'ch'), mediaMessages(tags, WRAP_START)]);
  return { bytes, tags: tags.map((t) => ({ type: t.type, timestamp: (WRAP_START + t.timestamp) % 2 ** 32, length: t.data.length })) };
}

function parse(bytes: Buffer, pieces: (remaining: number) => number) {
  const events: string[] = [];
  const media: { type: number; timestamp: number; length: number }[] = [];
  const p = createRtmpProtocol(
    {
      output: () => {},
      connect: (i) => {
        events.push(`connect ${i.app} ${i.tcUrl}`);
        p.acceptConnect(i.transId);
      },
      publish: (i) => events.push(`publish ${i.streamName} ${i.streamId}`),
      unpublish: (c) => events.push(`unpublish ${c}`),
      media: (type, timestamp, payload) => media.push({ type, timestamp, length: payload.length }),
      play: () => events.push('play'),
    },
    { maxMessageSize: 1 << 20, maxChunkStreams: 16 },
  );
  for (let o = 0; o < bytes.length; ) {
    const n = Math.max(1, Math.min(pieces(bytes.length - o), bytes.length - o));
    p.feed(bytes.subarray(o, o + n));
    o += n;
  }
  return { events, media };
}

describe('RTMP protocol adapter', () => {
  const { bytes, tags } = clientStream();

  it('delivers every message with 3-byte chunk stream ids and 32-bit clocks that wrap', () => {
    const { events, media } = parse(bytes, () => bytes.length);
    expect(events).toEqual(['connect live rtmp://127.0.0.1/live', 'publish ch 1']);
    expect(media).toEqual(tags);
    expect(media.some((m) => m.timestamp < 10_000)).toBe(true); // past the wrap
  });

  it('parses identically whatever the pieces: 1 byte, random 1..70 000, whole', () => {
    const head = bytes.subarray(0, 300_000);
    expect(parse(head, () => 1)).toEqual(parse(head, () => head.length));
    const whole = parse(bytes, () => bytes.length);
    const rand = prng(7);
    expect(parse(bytes, () => 1 + Math.floor(rand() * 70_000))).toEqual(whole);
  });

  it('refuses oversized messages and too many chunk streams', () => {
    const big = message({ cid: 6, type: 9, streamId: 1, payload: Buffer.alloc(2 << 20) });
    expect(() => parse(Buffer.concat([c0c1(), Buffer.alloc(1536), big]), () => 1 << 30)).toThrow(RtmpProtocolError);
    const many = Buffer.concat(Array.from({ length: 20 }, (_, i) => message({ cid: 10 + i, type: 8, payload: Buffer.alloc(4) })));
    expect(() => parse(Buffer.concat([c0c1(), Buffer.alloc(1536), many]), () => 1 << 30)).toThrow(/more than 16 RTMP chunk streams/);
  });
});
