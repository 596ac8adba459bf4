/**
 * The HTTP Message Signatures signature base, RFC 9421 §2.5, over a general set of covered
 * components: the derived components `@method` (§2.2.1), `@target-uri` (§2.2.2), `@authority`
 * (§2.2.3) and `@path` (§2.2.6), and HTTP fields by lower-cased name (§2.1), plus the
 * `@signature-params` line (§2.3). General enough to reproduce the RFC's own examples (Appendix
 * B.2.6 is checked in the tests); jointban's profile is fixed in `request-signature.ts`.
 *
 * Component identifiers with parameters (`;sf`, `;key`, `;bs`, `;req`, `;tr`, `;name`) and the other
 * derived components are not implemented and are reported as `unsupported`, never guessed at.
 */
import { serializeBareItem, serializeInnerList, type Item, type Parameters } from './structured-fields.js';

/** The message as the signer sends it or the verifier received it. */
export interface MessageComponents {
  method?: string;
  /** The full target URI, e.g. `https://example.com/foo?a=b`. */
  targetUri?: string;
  /** host[:port] as sent; normalised here (lower-cased). Default ports must already be omitted. */
  authority?: string;
  /** The absolute path without the query; the empty path is `/` (§2.2.6). */
  path?: string;
  /** An HTTP field's value by lower-cased name, multiple field lines combined with ", "; undefined if absent. */
  field(name: string): string | undefined;
}

export type SignatureBaseResult = { ok: true; base: string; signatureParams: string } | { ok: false; kind: 'unsupported' | 'invalid'; error: string };

/** More covered components than this is not a request any jointban node sends. */
export const MAX_COVERED_COMPONENTS = 32;
const MAX_FIELD_NAME_LENGTH = 64;

const FIELD_NAME_SYMBOLS = "!#$%&'*+-.^_`|~";

/** A lower-case field-name token (RFC 9110 §5.1); RFC 9421 §2.1 requires lower case. */
export function isLowerCaseFieldName(name: string): boolean {
  if (name.length === 0 || name.length > MAX_FIELD_NAME_LENGTH) return false;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const ok = (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || FIELD_NAME_SYMBOLS.includes(name.charAt(i));
    if (!ok) return false;
  }
  return true;
}

/** The signature base is US-ASCII (§2.5): visible characters, space and HTAB only, so no line breaks. */
function isBaseSafe(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if ((c < 0x20 && c !== 0x09) || c > 0x7e) return false;
  }
  return true;
}

/** Strip leading and trailing optional whitespace (SP / HTAB), as §2.1 requires for field values. */
function trimOws(value: string): string {
  let start = 0;
  let end = value.length;
  while (start < end && (value[start] === ' ' || value[start] === '\t')) start++;
  while (end > start && (value[end - 1] === ' ' || value[end - 1] === '\t')) end--;
  return value.slice(start, end);
}

function componentValue(name: string, message: MessageComponents): { ok: true; value: string } | { ok: false; kind: 'unsupported' | 'invalid'; error: string } {
  if (name.startsWith('@')) {
    let value: string | undefined;
    switch (name) {
      case '@method':
        value = message.method;
        break;
      case '@target-uri':
        value = message.targetUri;
        break;
      case '@authority':
        value = message.authority?.toLowerCase();
        break;
      case '@path':
        value = message.path === '' ? '/' : message.path;
        break;
      case '@signature-params':
        return { ok: false, kind: 'invalid', error: '"@signature-params" cannot be a covered component' };
      default:
        return { ok: false, kind: 'unsupported', error: `derived component ${JSON.stringify(name)} is not supported` };
    }
    return value === undefined ? { ok: false, kind: 'invalid', error: `component ${name} is not available` } : { ok: true, value };
  }
  if (!isLowerCaseFieldName(name)) return { ok: false, kind: 'invalid', error: `invalid field name ${JSON.stringify(name)}` };
  const raw = message.field(name);
  if (raw === undefined) return { ok: false, kind: 'invalid', error: `covered field "${name}" is absent` };
  return { ok: true, value: trimOws(raw) };
}

/**
 * RFC 9421 §2.5: one line `"<name>": <value>` per covered component, in order, then the
 * `"@signature-params"` line (no trailing newline). `params` are the signature parameters in the
 * order they are (or were) written in Signature-Input. Never throws.
 */
export function buildSignatureBase(covered: readonly string[], params: Parameters, message: MessageComponents): SignatureBaseResult {
  if (covered.length > MAX_COVERED_COMPONENTS) return { ok: false, kind: 'invalid', error: 'too many covered components' };
  const seen = new Set<string>();
  let base = '';
  for (const name of covered) {
    if (seen.has(name)) return { ok: false, kind: 'invalid', error: `component ${JSON.stringify(name)} is covered twice` };
    seen.add(name);
    const value = componentValue(name, message);
    if (!value.ok) return value;
    if (!isBaseSafe(value.value)) return { ok: false, kind: 'invalid', error: `component ${name} has a character outside printable ASCII` };
    base += `${serializeBareItem({ type: 'string', value: name })}: ${value.value}\n`;
  }
  const items: Item[] = covered.map((name) => ({ kind: 'item', value: { type: 'string', value: name }, params: [] }));
  let signatureParams: string;
  try {
    signatureParams = serializeInnerList({ kind: 'inner-list', items, params });
  } catch (e) {
    if (e instanceof RangeError) return { ok: false, kind: 'invalid', error: `signature parameters: ${e.message}` };
    throw e;
  }
  return { ok: true, base: `${base}"@signature-params": ${signatureParams}`, signatureParams };
}
