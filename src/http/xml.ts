import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';
import { errors } from '../oss/errors.js';

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n';

const builder = new XMLBuilder({ format: true, indentBy: '  ', suppressEmptyNode: false, processEntities: true });

/** Renders `{Root: {...}}` as an XML document; key order is element order. */
export function toXml(doc: Record<string, unknown>): string {
  return DECLARATION + builder.build(doc);
}

const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false, // keep "05" as "05": validation decides what is a number
  trimValues: true,
  processEntities: true, // the five predefined entities only; declarations are refused below
  isArray: () => false,
});

/** Parses a request body, refusing DTDs (entity expansion, XXE) and anything malformed. */
export function parseXmlBody(body: Buffer | string | undefined): Record<string, unknown> {
  const text = typeof body === 'string' ? body : (body?.toString('utf8') ?? '');
  if (text.trim() === '') throw errors.malformedXml('The XML you provided was empty.');
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw errors.malformedXml('XML with a DOCTYPE or entity declarations is not accepted.');
  const valid = XMLValidator.validate(text);
  if (valid !== true) {
    throw errors.malformedXml(`The XML you provided was not well-formed: ${valid.err.msg} (line ${valid.err.line}).`);
  }
  let parsed: Record<string, unknown>;
  try {
    parsed = parser.parse(text) as Record<string, unknown>;
  } catch (err) {
    // the validator lets some through that the parser refuses (an unclosed <? after the root)
    throw errors.malformedXml(`The XML you provided was not well-formed: ${(err as Error).message}`);
  }
  delete parsed['?xml'];
  return parsed;
}
