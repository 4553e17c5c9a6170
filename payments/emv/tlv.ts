/**
 * EMV QRCPS Merchant-Presented Mode (and JPQR, which follows it) payloads as an ordered tree.
 *
 * Wire form: data objects `ID(2 digits) LEN(2 digits) VALUE`, where LEN counts CHARACTERS (Unicode code points),
 * not bytes and not UTF-16 units. Top-level IDs 26–51 (merchant account information), 62 (additional data),
 * 64 (merchant information in another language) and 80–99 (unreserved) are templates: their value is itself a
 * sequence of data objects, decoded into `children`. Every other ID (02–25 included: they are primitive
 * network-specific values, never templates) is a primitive `value`.
 *
 * Decoding keeps the order and every object as written, so `encodeEmv(decodeEmv(p))` reproduces `p` exactly
 * (the checksum included). Rules about WHICH objects a payload must carry live in `rules.ts`.
 */
import { fail, ok, type Result } from '../../protocol/errors.js';
import { emvCrcHex } from './crc.js';

/** Longest payload, in characters (EMV MPM and JPQR). */
export const EMV_MAX_CHARS = 512;

/** A primitive data object. */
export interface EmvPrimitive {
  /** Two decimal digits. */
  id: string;
  value: string;
}

/** A template data object: its value is the encoding of `children`. */
export interface EmvTemplate {
  id: string;
  children: EmvNode[];
}

/** One data object of the tree. */
export type EmvNode = EmvPrimitive | EmvTemplate;

/** Where in the tree something is: the IDs from the top, e.g. ['62', '05']. */
export type EmvPath = string[];

/** Why a text is not a well-formed payload (before any rule about its contents). */
export type EmvSyntaxRule =
  'PayloadEmpty' | 'PayloadTooLong' | 'IdNotDigits' | 'LengthNotDigits' | 'ValueTruncated' | 'TemplateNotTlv';

/** Why a tree cannot be encoded. */
export type EmvEncodeRule = 'IdNotDigits' | 'ValueTooLong' | 'PayloadTooLong';

/** A broken rule with its place: `path` names the object, `offset` the character where it starts (if known). */
export interface EmvFailure<R extends string = string> {
  rule: R;
  path: EmvPath;
  offset?: number;
  message: string;
}

/** True when a node is a template. */
export function isTemplate(node: EmvNode): node is EmvTemplate {
  return 'children' in node;
}

/**
 * Whether a top-level ID holds a template (26–51, 62, 64, 80–99). Inside a template every object is primitive.
 * @param id two decimal digits
 */
export function isTemplateId(id: string): boolean {
  const n = Number(id);
  return (n >= 26 && n <= 51) || n === 62 || n === 64 || (n >= 80 && n <= 99);
}

const DIGITS2 = /^[0-9]{2}$/;

/**
 * Decodes a payload into its ordered tree. Bounded: a text longer than {@link EMV_MAX_CHARS} characters is
 * refused before it is parsed.
 * @param payload the scanned text (hostile input)
 * @returns the top-level data objects in order, or the first syntax failure (`PayloadEmpty`, `PayloadTooLong`,
 *   `IdNotDigits`, `LengthNotDigits`, `ValueTruncated`, `TemplateNotTlv`) with its path and character offset
 */
export function decodeEmv(payload: string): Result<EmvNode[], EmvFailure<EmvSyntaxRule>> {
  if (payload.length === 0) return fail({ rule: 'PayloadEmpty', path: [], message: 'payload is empty' });
  // Cheap bound first (a code point is at most 2 UTF-16 units), then the exact one.
  if (payload.length > 2 * EMV_MAX_CHARS) return fail(tooLong(payload.length));
  const chars = Array.from(payload);
  if (chars.length > EMV_MAX_CHARS) return fail(tooLong(chars.length));
  return decodeObjects(chars, 0, chars.length, [], true);
}

function tooLong(n: number): EmvFailure<'PayloadTooLong'> {
  return {
    rule: 'PayloadTooLong',
    path: [],
    message: `payload has ${n} characters, more than ${EMV_MAX_CHARS}`,
  };
}

/** Reads a flat sequence of data objects from chars[start, end): IDs, lengths and raw values. */
function readObjects(
  chars: string[],
  start: number,
  end: number,
  parent: EmvPath,
): Result<{ id: string; valueStart: number; length: number }[], EmvFailure<EmvSyntaxRule>> {
  const objects: { id: string; valueStart: number; length: number }[] = [];
  let at = start;
  while (at < end) {
    const id = chars.slice(at, Math.min(at + 2, end)).join('');
    if (!DIGITS2.test(id)) {
      return fail({
        rule: 'IdNotDigits',
        path: parent,
        offset: at,
        message: `ID ${JSON.stringify(id)} at ${at}`,
      });
    }
    const path = [...parent, id];
    const lenText = chars.slice(at + 2, Math.min(at + 4, end)).join('');
    if (!DIGITS2.test(lenText)) {
      return fail({
        rule: 'LengthNotDigits',
        path,
        offset: at + 2,
        message: `length of ${id} is not 2 digits`,
      });
    }
    const length = Number(lenText);
    const valueStart = at + 4;
    if (valueStart + length > end) {
      return fail({
        rule: 'ValueTruncated',
        path,
        offset: valueStart,
        message: `${id} declares ${length} characters, ${end - valueStart} remain`,
      });
    }
    objects.push({ id, valueStart, length });
    at = valueStart + length;
  }
  return ok(objects);
}

/** Decodes the top level first (so a broken top level is reported as such), then each template's contents. */
function decodeObjects(
  chars: string[],
  start: number,
  end: number,
  parent: EmvPath,
  topLevel: boolean,
): Result<EmvNode[], EmvFailure<EmvSyntaxRule>> {
  const objects = readObjects(chars, start, end, parent);
  if (!objects.ok) return objects;
  const nodes: EmvNode[] = [];
  for (const { id, valueStart, length } of objects.value) {
    if (topLevel && isTemplateId(id)) {
      const inner = decodeObjects(chars, valueStart, valueStart + length, [...parent, id], false);
      if (!inner.ok) {
        return fail({
          rule: 'TemplateNotTlv',
          path: inner.error.path,
          offset: inner.error.offset,
          message: `template ${id}: ${inner.error.rule}: ${inner.error.message}`,
        });
      }
      nodes.push({ id, children: inner.value });
    } else {
      nodes.push({ id, value: chars.slice(valueStart, valueStart + length).join('') });
    }
  }
  return ok(nodes);
}

/** Number of characters (code points) of a text. */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/**
 * Encodes a tree back into payload text, exactly as the objects are given (order, values, and a `63` checksum
 * object if present are written as they are; use {@link withEmvCrc} to compute the checksum).
 * @param nodes top-level data objects
 * @returns the payload, or `IdNotDigits` / `ValueTooLong` (a value above 99 characters) / `PayloadTooLong`
 */
export function encodeEmv(nodes: EmvNode[]): Result<string, EmvFailure<EmvEncodeRule>> {
  const text = encodeObjects(nodes, []);
  if (!text.ok) return text;
  const n = charCount(text.value);
  if (n > EMV_MAX_CHARS) return fail({ ...tooLong(n) });
  return text;
}

function encodeObjects(nodes: EmvNode[], parent: EmvPath): Result<string, EmvFailure<EmvEncodeRule>> {
  let out = '';
  for (const node of nodes) {
    const path = [...parent, node.id];
    if (!DIGITS2.test(node.id)) {
      return fail({ rule: 'IdNotDigits', path, message: `ID ${JSON.stringify(node.id)} is not 2 digits` });
    }
    let value: string;
    if (isTemplate(node)) {
      const inner = encodeObjects(node.children, path);
      if (!inner.ok) return inner;
      value = inner.value;
    } else {
      value = node.value;
    }
    const length = charCount(value);
    if (length > 99) {
      return fail({
        rule: 'ValueTooLong',
        path,
        message: `${node.id} has ${length} characters, at most 99 fit`,
      });
    }
    out += node.id + String(length).padStart(2, '0') + value;
  }
  return ok(out);
}

/**
 * Encodes a tree with a freshly computed checksum: any `63` object is dropped and `6304<CRC>` is appended last.
 * @param nodes top-level data objects (a `63` among them is ignored)
 * @returns the payload with its checksum, or an encode failure as {@link encodeEmv}
 */
export function withEmvCrc(nodes: EmvNode[]): Result<string, EmvFailure<EmvEncodeRule>> {
  const body = encodeEmv(nodes.filter((n) => n.id !== '63'));
  if (!body.ok) return body;
  const prefix = body.value + '6304';
  const payload = prefix + emvCrcHex(prefix);
  const n = charCount(payload);
  if (n > EMV_MAX_CHARS) return fail(tooLong(n));
  return ok(payload);
}
