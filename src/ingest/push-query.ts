/**
 * Push URL query parsing that both kinds of encoder agree with.
 *
 * ffmpeg and GStreamer send the stream key as typed (`Signature=ab%2Bc%3D`); OBS and every
 * librtmp-based encoder percent-decode it first (`Signature=ab+c=`). A URL query's usual
 * reading (`+` means space) would break the second form, and base64 signatures contain `+`
 * about a third of the time, so here `+` is always a literal `+`, a value is split from its
 * key at the first `=` only, and a `%` that does not start a valid escape is kept as it is.
 */
export function decodePushComponent(text: string): string {
  if (!text.includes('%')) return text;
  try {
    return decodeURIComponent(text);
  } catch {
    // already decoded by the encoder and holding a literal "%"
    return text;
  }
}

/** The key/value pairs of a push URL's query string, in order (repeats included). */
export function parsePushQuery(query: string): [string, string][] {
  const out: [string, string][] = [];
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    const value = eq < 0 ? '' : part.slice(eq + 1);
    out.push([decodePushComponent(key), decodePushComponent(value)]);
  }
  return out;
}

/**
 * ffmpeg takes an RTMP URL's application to be everything up to the path's second "/", so a
 * stream key typed with a literal "/" in its query (`live/ch?…&Signature=ab/cd=`) arrives as
 * app `live/ch?…&Signature=ab` and stream `cd=`. A "?" inside the application can only come
 * from such a split, so the two halves are joined again.
 */
export function rejoinSplitStreamKey(app: string, streamName: string): { app: string; streamName: string } {
  const m = /^(live)\/(.*\?.*)$/.exec(app);
  if (!m) return { app, streamName };
  return { app: m[1]!, streamName: `${m[2]!}/${streamName}` };
}
