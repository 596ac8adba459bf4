/**
 * The subset of Structured Field Values (RFC 8941) that HTTP Message Signatures (RFC 9421) and
 * Content-Digest (RFC 9530) need: Dictionaries (§3.2) whose members are Items or Inner Lists (§3.1.1)
 * with Parameters (§3.1.2), all bare item types, the parsing algorithms of §4.2 and the
 * serialisation algorithms of §4.1.
 *
 * The parser reads attacker-controlled header values. It is a hand-written scanner over character
 * codes (no regular expression is built from input), it never throws, and it is stricter than
 * RFC 8941 in two documented ways:
 * - a duplicated dictionary key or parameter key is an error (RFC 8941 §4.2.2 lets the later one
 *   overwrite; two verifiers reading "the" signature differently is exactly what an attacker wants);
 * - a byte sequence must be canonical padded base64 (RFC 8941 §4.2.7 says a parser SHOULD NOT fail on
 *   missing padding; we accept one spelling only, as `fromBase64` does everywhere in jointban).
 * Callers cap the input length before parsing.
 */
import { fromBase64, toBase64 } from '../crypto/encoding.js';

export type BareItem =
  | { type: 'integer'; value: number }
  | { type: 'decimal'; value: number }
  | { type: 'string'; value: string }
  | { type: 'token'; value: string }
  | { type: 'bytes'; value: Uint8Array }
  | { type: 'boolean'; value: boolean };

/** Parameters in order of appearance; keys are unique (enforced by the parser). */
export type Parameters = Array<[key: string, value: BareItem]>;

export interface Item {
  kind: 'item';
  value: BareItem;
  params: Parameters;
}

export interface InnerList {
  kind: 'inner-list';
  items: Item[];
  params: Parameters;
}

/** Dictionary members in order of appearance; keys are unique (enforced by the parser). */
export type Dictionary = Array<[key: string, value: Item | InnerList]>;

export type SfResult<T> = { ok: true; value: T } | { ok: false; error: string };

const MAX_INTEGER = 999_999_999_999_999;

const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
const isLcAlpha = (c: number): boolean => c >= 0x61 && c <= 0x7a;
const isAlpha = (c: number): boolean => isLcAlpha(c) || (c >= 0x41 && c <= 0x5a);
const TCHAR_SYMBOLS = "!#$%&'*+-.^_`|~";
const isTchar = (c: number): boolean => isAlpha(c) || isDigit(c) || TCHAR_SYMBOLS.includes(String.fromCharCode(c));
const isKeyChar = (c: number): boolean => isLcAlpha(c) || isDigit(c) || c === 0x5f || c === 0x2d || c === 0x2e || c === 0x2a;
const isBase64Char = (c: number): boolean => isAlpha(c) || isDigit(c) || c === 0x2b || c === 0x2f || c === 0x3d;

class ParseError extends Error {}

/** RFC 8941 §4.2 parsing over one field value; methods throw ParseError, caught at the boundary. */
class Scanner {
  private pos = 0;
  constructor(private readonly text: string) {}

  private peek(): number {
    return this.pos < this.text.length ? this.text.charCodeAt(this.pos) : -1;
  }
  private fail(what: string): never {
    throw new ParseError(`${what} at offset ${this.pos}`);
  }
  private skipSp(): void {
    while (this.peek() === 0x20) this.pos++;
  }
  private skipOws(): void {
    while (this.peek() === 0x20 || this.peek() === 0x09) this.pos++;
  }

  dictionary(): Dictionary {
    const out: Dictionary = [];
    const seen = new Set<string>();
    this.skipSp();
    while (this.pos < this.text.length) {
      const key = this.key();
      if (seen.has(key)) this.fail(`duplicate dictionary key "${key}"`);
      seen.add(key);
      if (this.peek() === 0x3d) {
        this.pos++;
        out.push([key, this.peek() === 0x28 ? this.innerList() : this.item()]);
      } else {
        out.push([key, { kind: 'item', value: { type: 'boolean', value: true }, params: this.params() }]);
      }
      this.skipOws();
      if (this.pos >= this.text.length) return out;
      if (this.peek() !== 0x2c) this.fail('expected ","');
      this.pos++;
      this.skipOws();
      if (this.pos >= this.text.length) this.fail('trailing ","');
    }
    return out;
  }

  private innerList(): InnerList {
    this.pos++; // "("
    const items: Item[] = [];
    for (;;) {
      this.skipSp();
      if (this.peek() === 0x29) {
        this.pos++;
        return { kind: 'inner-list', items, params: this.params() };
      }
      items.push(this.item());
      const c = this.peek();
      if (c !== 0x20 && c !== 0x29) this.fail('expected " " or ")" in inner list');
    }
  }

  private item(): Item {
    const value = this.bareItem();
    return { kind: 'item', value, params: this.params() };
  }

  private params(): Parameters {
    const out: Parameters = [];
    while (this.peek() === 0x3b) {
      this.pos++;
      this.skipSp();
      const key = this.key();
      if (out.some(([k]) => k === key)) this.fail(`duplicate parameter "${key}"`);
      let value: BareItem = { type: 'boolean', value: true };
      if (this.peek() === 0x3d) {
        this.pos++;
        value = this.bareItem();
      }
      out.push([key, value]);
    }
    return out;
  }

  private key(): string {
    const start = this.pos;
    const first = this.peek();
    if (!isLcAlpha(first) && first !== 0x2a) this.fail('expected a key');
    this.pos++;
    while (isKeyChar(this.peek())) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private bareItem(): BareItem {
    const c = this.peek();
    if (c === 0x2d || isDigit(c)) return this.number();
    if (c === 0x22) return { type: 'string', value: this.string() };
    if (c === 0x3a) return { type: 'bytes', value: this.bytes() };
    if (c === 0x3f) return { type: 'boolean', value: this.boolean() };
    if (isAlpha(c) || c === 0x2a) return { type: 'token', value: this.token() };
    return this.fail('expected a bare item');
  }

  /** RFC 8941 §4.2.4: at most 15 integer digits, or 12 + "." + 1 to 3 for a decimal. */
  private number(): BareItem {
    const start = this.pos;
    if (this.peek() === 0x2d) this.pos++;
    if (!isDigit(this.peek())) this.fail('expected a digit');
    const digitsStart = this.pos;
    let dot = -1;
    for (;;) {
      const c = this.peek();
      if (isDigit(c)) this.pos++;
      else if (c === 0x2e && dot === -1) {
        if (this.pos - digitsStart > 12) this.fail('decimal with too many integer digits');
        dot = this.pos++;
      } else break;
      if (dot === -1 && this.pos - digitsStart > 15) this.fail('integer too long');
      if (dot !== -1 && this.pos - dot - 1 > 3) this.fail('decimal with too many fraction digits');
    }
    const text = this.text.slice(start, this.pos);
    if (dot === -1) return { type: 'integer', value: Number(text) };
    if (dot === this.pos - 1) this.fail('decimal ends with "."');
    return { type: 'decimal', value: Number(text) };
  }

  private string(): string {
    this.pos++; // opening DQUOTE
    let out = '';
    for (;;) {
      const c = this.peek();
      if (c === -1) this.fail('unterminated string');
      this.pos++;
      if (c === 0x22) return out;
      if (c === 0x5c) {
        const next = this.peek();
        if (next !== 0x22 && next !== 0x5c) this.fail('bad escape in string');
        this.pos++;
        out += String.fromCharCode(next);
      } else if (c < 0x20 || c > 0x7e) {
        this.fail('non-printable character in string');
      } else out += String.fromCharCode(c);
    }
  }

  private token(): string {
    const start = this.pos++;
    for (let c = this.peek(); isTchar(c) || c === 0x3a || c === 0x2f; c = this.peek()) this.pos++;
    return this.text.slice(start, this.pos);
  }

  private bytes(): Uint8Array {
    const start = ++this.pos;
    while (isBase64Char(this.peek())) this.pos++;
    if (this.peek() !== 0x3a) this.fail('unterminated byte sequence');
    const decoded = fromBase64(this.text.slice(start, this.pos++));
    return decoded ?? this.fail('byte sequence is not canonical base64');
  }

  private boolean(): boolean {
    this.pos++; // "?"
    const c = this.peek();
    if (c !== 0x30 && c !== 0x31) this.fail('bad boolean');
    this.pos++;
    return c === 0x31;
  }

  end(): void {
    this.skipSp();
    if (this.pos !== this.text.length) this.fail('unexpected trailing characters');
  }
}

/** RFC 8941 §4.2 with "dictionary" as the field type. An empty value is an empty dictionary. */
export function parseDictionary(text: string): SfResult<Dictionary> {
  try {
    const scanner = new Scanner(text);
    const value = scanner.dictionary();
    scanner.end();
    return { ok: true, value };
  } catch (e) {
    if (e instanceof ParseError) return { ok: false, error: e.message };
    throw e;
  }
}

/** RFC 8941 §4.1.3–4.1.9. Throws RangeError for values no structured field can carry. */
export function serializeBareItem(item: BareItem): string {
  switch (item.type) {
    case 'integer':
      if (!Number.isInteger(item.value) || Math.abs(item.value) > MAX_INTEGER) throw new RangeError('integer out of range');
      return String(item.value);
    case 'decimal': {
      // §4.1.5 rounds ties to even; this rounds them away from zero. No jointban signature has a decimal.
      const fixed = (Math.round(item.value * 1000) / 1000).toFixed(3).replace(/0{1,2}$/, '');
      if (Math.abs(Math.trunc(item.value)) >= 1e12) throw new RangeError('decimal out of range');
      return fixed;
    }
    case 'string':
      for (let i = 0; i < item.value.length; i++) {
        const c = item.value.charCodeAt(i);
        if (c < 0x20 || c > 0x7e) throw new RangeError('string has a non-printable character');
      }
      return `"${item.value.replace(/[\\"]/g, (m) => `\\${m}`)}"`;
    case 'token': {
      const t = item.value;
      const ok = t.length > 0 && (isAlpha(t.charCodeAt(0)) || t[0] === '*') && [...t].every((ch) => isTchar(ch.charCodeAt(0)) || ch === ':' || ch === '/');
      if (!ok) throw new RangeError('invalid token');
      return t;
    }
    case 'bytes':
      return `:${toBase64(item.value)}:`;
    case 'boolean':
      return item.value ? '?1' : '?0';
  }
}

function serializeKey(key: string): string {
  const ok = key.length > 0 && (isLcAlpha(key.charCodeAt(0)) || key[0] === '*') && [...key].every((ch) => isKeyChar(ch.charCodeAt(0)));
  if (!ok) throw new RangeError(`invalid key "${key}"`);
  return key;
}

/** RFC 8941 §4.1.1.2: a Boolean true parameter is written as the bare key. */
export function serializeParams(params: Parameters): string {
  return params.map(([key, value]) => (value.type === 'boolean' && value.value ? `;${serializeKey(key)}` : `;${serializeKey(key)}=${serializeBareItem(value)}`)).join('');
}

export function serializeItem(item: Item): string {
  return serializeBareItem(item.value) + serializeParams(item.params);
}

/** RFC 8941 §4.1.1.1: items separated by a single space. */
export function serializeInnerList(list: InnerList): string {
  return `(${list.items.map(serializeItem).join(' ')})${serializeParams(list.params)}`;
}

export function serializeDictionary(dict: Dictionary): string {
  return dict
    .map(([key, member]) => {
      if (member.kind === 'item' && member.value.type === 'boolean' && member.value.value) {
        return serializeKey(key) + serializeParams(member.params);
      }
      return `${serializeKey(key)}=${member.kind === 'item' ? serializeItem(member) : serializeInnerList(member)}`;
    })
    .join(', ');
}
