/**
 * Peer request authentication: jointban's profile of HTTP Message Signatures (RFC 9421) with
 * Ed25519 (§3.3.6) and a Content-Digest (RFC 9530 §2) of the body.
 *
 *   Content-Digest:  sha-256=:<base64 SHA-256 of the body>:
 *   Signature-Input: jb=("@method" "@authority" "@path" "content-digest");created=<s>;keyid="<member id>";alg="ed25519";nonce="<base64url 16 bytes>"
 *   Signature:       jb=:<base64 Ed25519 signature over the §2.5 signature base>:
 *
 * `@authority` binds a request to the node it was meant for, so a node that receives a member's
 * request cannot replay it to another node. A verifier rebuilds it from the authorities it is
 * known under (its roster endpoint, its `http.publicUrl`), never from the Host header, so a reverse
 * proxy may rewrite Host; the received Host only tells `wrong_authority` from `bad_signature`.
 *
 * This file fixes the profile and signs; `request-verification.ts` verifies. The full profile is in
 * docs/PROTOCOL.md.
 */
import { toBase64, toBase64Url, utf8 } from '../crypto/encoding.js';
import { ed25519Sign, randomBytes, sha256Native } from '../crypto/index.js';
import { buildSignatureBase } from './signature-base.js';
import type { Parameters } from './structured-fields.js';

export { ReplayCache, type ReplayCacheOptions } from './replay-cache.js';

export const SIGNATURE_LABEL = 'jb';
export const SIGNATURE_ALG = 'ed25519';
/** What every jointban signature covers, in this order when we sign; a verifier requires at least these. */
export const COVERED_COMPONENTS: readonly string[] = ['@method', '@authority', '@path', 'content-digest'];
/**
 * What a node signs and accepts during an upgrade (`sync.requestAuthority: "transition"`): the
 * profile before `@authority`, which nodes of earlier versions require (docs/PROTOCOL.md, "Upgrading").
 */
export const TRANSITION_COVERED_COMPONENTS: readonly string[] = ['@method', '@path', 'content-digest'];
export const NONCE_BYTES = 16;
export const MAX_KEY_ID_LENGTH = 128;
export interface SignRequestInput {
  method: string;
  /** The request path only (RFC 9421 §2.2.6 `@path`): starts with "/", no query, no fragment. */
  path: string;
  /**
   * The target's host[:port] as the WHATWG URL parser gives it (`new URL(endpoint).host`: lower
   * case, default port omitted), RFC 9421 §2.2.3 `@authority`; null signs without it, which only a
   * node in an upgrade's transition does.
   */
  authority: string | null;
  body: Uint8Array;
  keyId: string;
  secretKey: Uint8Array;
  /** Unix seconds. */
  created: number;
  /** Base64url (unpadded) of 16 bytes; random when omitted. */
  nonce?: string;
}

/** A type alias, not an interface, so it can be passed straight to fetch() as HeadersInit. */
export type SignedRequestHeaders = {
  'content-digest': string;
  'signature-input': string;
  signature: string;
};

export interface RequestSignatureBaseInput {
  method: string;
  path: string;
  authority: string | null;
  contentDigest: string;
  created: number;
  keyId: string;
  nonce: string;
}

/** RFC 9530 §2 with SHA-256, the only algorithm of the profile. */
export function contentDigest(body: Uint8Array): string {
  return `sha-256=:${toBase64(sha256Native(body))}:`;
}

/** Base64url of exactly 16 bytes: 22 characters, the last one carrying 2 data bits (A, Q, g or w). */
export function isValidNonce(nonce: string): boolean {
  if (nonce.length !== 22 || !'AQgw'.includes(nonce.charAt(21))) return false;
  for (let i = 0; i < nonce.length; i++) {
    const c = nonce.charCodeAt(i);
    const ok = (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x5f;
    if (!ok) return false;
  }
  return true;
}

function isValidPath(path: string): boolean {
  return path.startsWith('/') && !path.includes('?') && !path.includes('#');
}

/** A host[:port] as `URL.host` spells it: no user info, path or white space, and lower case. */
function isValidAuthority(authority: string): boolean {
  return authority.length > 0 && authority.length <= 300 && authority === authority.toLowerCase() && !/[\s/@?#]/.test(authority);
}

/**
 * The authorities a node is known under to its peers: the host[:port] of its own roster endpoint
 * (what peers sign for) and of `http.publicUrl` when set (during a move, the roster may lag behind
 * it). Unparseable values are skipped.
 */
export function ownAuthorities(urls: readonly (string | undefined)[]): string[] {
  const out: string[] = [];
  for (const url of urls) {
    if (url === undefined) continue;
    let host: string;
    try {
      host = new URL(url).host;
    } catch {
      continue;
    }
    if (host !== '' && !out.includes(host)) out.push(host);
  }
  return out;
}

function profileParams(created: number, keyId: string, nonce: string): Parameters {
  return [
    ['created', { type: 'integer', value: created }],
    ['keyid', { type: 'string', value: keyId }],
    ['alg', { type: 'string', value: SIGNATURE_ALG }],
    ['nonce', { type: 'string', value: nonce }],
  ];
}

/** The exact signature base (RFC 9421 §2.5) the profile signs. Throws RangeError on invalid input. */
export function requestSignatureBase(input: RequestSignatureBaseInput): string {
  return profileBase(input).base;
}

function profileBase(input: RequestSignatureBaseInput): { base: string; signatureParams: string } {
  if (!isValidPath(input.path)) throw new RangeError('path must start with "/" and carry no query or fragment');
  if (!Number.isSafeInteger(input.created) || input.created < 0) {
    throw new RangeError('created must be a non-negative integer (unix seconds)');
  }
  if (input.keyId.length === 0 || input.keyId.length > MAX_KEY_ID_LENGTH) throw new RangeError('keyId length out of range');
  if (!isValidNonce(input.nonce)) throw new RangeError('nonce must be base64url of 16 bytes');
  if (input.authority !== null && !isValidAuthority(input.authority)) throw new RangeError('authority must be a lower-case host[:port]');
  const covered = input.authority === null ? TRANSITION_COVERED_COMPONENTS : COVERED_COMPONENTS;
  const result = buildSignatureBase(covered, profileParams(input.created, input.keyId, input.nonce), {
    method: input.method,
    path: input.path,
    ...(input.authority === null ? {} : { authority: input.authority }),
    field: (name) => (name === 'content-digest' ? input.contentDigest : undefined),
  });
  if (!result.ok) throw new RangeError(result.error);
  return result;
}

/** The headers to add to a federation request. Throws RangeError on invalid input (a caller bug). */
export function signRequest(input: SignRequestInput): SignedRequestHeaders {
  const digest = contentDigest(input.body);
  const nonce = input.nonce ?? toBase64Url(randomBytes(NONCE_BYTES));
  const { base, signatureParams } = profileBase({ ...input, nonce, contentDigest: digest });
  const signature = ed25519Sign(input.secretKey, utf8(base));
  return {
    'content-digest': digest,
    'signature-input': `${SIGNATURE_LABEL}=${signatureParams}`,
    signature: `${SIGNATURE_LABEL}=:${toBase64(signature)}:`,
  };
}
