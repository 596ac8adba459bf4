/**
 * Byte encodings used on the wire and at rest: hex for tokens and hashes in JSON, standard
 * base64 (RFC 4648 §4, with padding) for the C2SP note formats, base64url for API keys.
 * Decoders are strict: they reject anything that would not re-encode to the same text, so a value
 * has exactly one accepted spelling.
 */
const HEX_RE = /^(?:[0-9a-f]{2})*$/;
const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** Lower-case hex only; returns undefined for anything else. */
export function fromHex(text: string): Uint8Array | undefined {
  if (!HEX_RE.test(text)) return undefined;
  return new Uint8Array(Buffer.from(text, 'hex'));
}

export function toBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

/** Canonical padded base64 only; returns undefined for anything else. */
export function fromBase64(text: string): Uint8Array | undefined {
  if (!BASE64_RE.test(text)) return undefined;
  const bytes = new Uint8Array(Buffer.from(text, 'base64'));
  return toBase64(bytes) === text ? bytes : undefined;
}

export function toBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

export function utf8(text: string): Uint8Array {
  return new TextEncoder().encode(text);
}

export function fromUtf8(bytes: Uint8Array): string {
  return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
