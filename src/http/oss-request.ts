import { errors } from '../oss/errors.js';

export interface ParsedUrl {
  /** Decoded path, starting with "/". */
  path: string;
  /** Decoded query parameters in order; "?live" and "?live=" both give ["live", ""]. */
  query: [string, string][];
}

function decode(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw errors.invalidUri(`The ${what} is not valid percent-encoded UTF-8.`);
  }
}

export function parseRequestUrl(url: string): ParsedUrl {
  const q = url.indexOf('?');
  const rawPath = q < 0 ? url : url.slice(0, q);
  const rawQuery = q < 0 ? '' : url.slice(q + 1);
  const query: [string, string][] = [];
  for (const part of rawQuery.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    query.push([decode(k.replace(/\+/g, ' '), 'query string'), decode(v.replace(/\+/g, ' '), 'query string')]);
  }
  return { path: decode(rawPath, 'request path'), query };
}
