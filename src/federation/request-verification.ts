/**
 * Verifying a peer request signed with jointban's RFC 9421 profile (request-signature.ts fixes the
 * profile; docs/PROTOCOL.md, "Verification", gives the order of the checks).
 *
 * `verifyRequest` reads attacker-controlled headers: lengths are capped before parsing, the
 * structured fields (RFC 8941) are parsed by a scanner that never throws, and every failure comes
 * back as a typed result. Only the label `jb` is understood; anything else is refused, not skipped.
 * Replay (the nonce) is checked by the caller with `ReplayCache` after a successful verification.
 */
import { bytesEqual, utf8 } from '../crypto/encoding.js';
import { ed25519VerifyOpenSsl, sha256Native } from '../crypto/index.js';
import { COVERED_COMPONENTS, isValidNonce, MAX_KEY_ID_LENGTH, SIGNATURE_ALG, SIGNATURE_LABEL, TRANSITION_COVERED_COMPONENTS } from './request-signature.js';
import { buildSignatureBase, isLowerCaseFieldName, MAX_COVERED_COMPONENTS } from './signature-base.js';
import { parseDictionary, type Dictionary, type Parameters } from './structured-fields.js';

/** The derived components (RFC 9421 §2.2) a covered list may name. */
const DERIVED_COMPONENTS = ['@method', '@authority', '@path'];

/** Header caps, far above what the profile produces (about 150, 95 and 55 characters). */
export const MAX_SIGNATURE_INPUT_LENGTH = 1024;
export const MAX_SIGNATURE_LENGTH = 256;
export const MAX_CONTENT_DIGEST_LENGTH = 256;

const SIGNATURE_PARAMS = ['created', 'keyid', 'alg', 'nonce'];

export type HeaderSource = { get(name: string): string | null } | Record<string, string | undefined>;

export interface VerifyRequestInput {
  method: string;
  /** The received request path without the query (e.g. `new URL(request.url).pathname`). */
  path: string;
  /** The authorities (host[:port], lower case) this node is known under to its peers; see `ownAuthorities`. */
  authorities: readonly string[];
  /** The received Host, only to tell `wrong_authority` (signed for that host) from `bad_signature`. */
  receivedAuthority?: string | undefined;
  /** During an upgrade's transition: also accept signatures that do not cover `@authority`. */
  acceptWithoutAuthority?: boolean | undefined;
  body: Uint8Array;
  headers: HeaderSource;
  /** Unix seconds. */
  now: number;
  maxSkewSeconds: number;
  /** The member's Ed25519 public keys valid now; none for an unknown or suspended member. */
  lookupKey(keyId: string): Uint8Array | readonly Uint8Array[] | undefined;
}

export type VerifyFailureCode = 'missing_signature' | 'malformed_signature' | 'unknown_key' | 'bad_digest' | 'bad_signature' | 'stale' | 'unsupported' | 'wrong_authority';

export type VerifyFailure = { ok: false; code: VerifyFailureCode; message: string };

export type VerifyResult = { ok: true; keyId: string; nonce: string; created: number } | VerifyFailure;

function isHeaderGetter(h: HeaderSource): h is { get(name: string): string | null } {
  return typeof (h as { get?: unknown }).get === 'function';
}

/** A field's combined value (field lines joined by ", ", RFC 9110 §5.3), matched case-insensitively. */
function headerValue(headers: HeaderSource, name: string): string | undefined {
  if (isHeaderGetter(headers)) return headers.get(name) ?? undefined;
  const values: string[] = [];
  for (const [key, value] of Object.entries(headers)) {
    if (value !== undefined && key.toLowerCase() === name) values.push(value);
  }
  return values.length === 0 ? undefined : values.join(', ');
}

const fail = (code: VerifyFailureCode, message: string): VerifyFailure => ({ ok: false, code, message });

/** Exactly one member, labelled `jb`; anything else is refused rather than partly understood. */
function jbMember(dict: Dictionary, header: string): { ok: true; member: Dictionary[number][1] } | VerifyFailure {
  if (dict.length === 0) return fail('missing_signature', `${header} has no signature`);
  const [first] = dict;
  if (dict.length > 1 || first === undefined || first[0] !== SIGNATURE_LABEL) {
    return fail('unsupported', `${header} must hold exactly one signature, labelled "${SIGNATURE_LABEL}"`);
  }
  return { ok: true, member: first[1] };
}

interface ParsedInput {
  covered: string[];
  params: Parameters;
  created: number;
  keyId: string;
  nonce: string;
}

function parseSignatureInput(member: Dictionary[number][1], required: readonly string[]): { ok: true; value: ParsedInput } | VerifyFailure {
  if (member.kind !== 'inner-list') return fail('malformed_signature', 'Signature-Input member is not an inner list');
  if (member.items.length > MAX_COVERED_COMPONENTS) return fail('malformed_signature', 'too many covered components');
  const covered: string[] = [];
  for (const item of member.items) {
    if (item.value.type !== 'string') return fail('malformed_signature', 'a covered component is not a string');
    if (item.params.length > 0) return fail('unsupported', 'component parameters are not supported');
    const name = item.value.value;
    if (name.startsWith('@') && !DERIVED_COMPONENTS.includes(name)) {
      return fail('unsupported', `covered component ${JSON.stringify(name)} is not supported`);
    }
    if (!name.startsWith('@') && !isLowerCaseFieldName(name)) {
      return fail('malformed_signature', `invalid field name ${JSON.stringify(name)}`);
    }
    if (covered.includes(name)) return fail('malformed_signature', `component ${JSON.stringify(name)} is covered twice`);
    covered.push(name);
  }
  for (const name of required) {
    if (!covered.includes(name)) return fail('malformed_signature', `the signature must cover "${name}"`);
  }
  const get = (key: string) => member.params.find(([k]) => k === key)?.[1];
  for (const [key] of member.params) {
    if (!SIGNATURE_PARAMS.includes(key)) return fail('unsupported', `signature parameter "${key}" is not supported`);
  }
  const created = get('created');
  const keyId = get('keyid');
  const alg = get('alg');
  const nonce = get('nonce');
  if (created?.type !== 'integer' || created.value < 0) return fail('malformed_signature', 'created must be a non-negative integer');
  if (keyId?.type !== 'string' || keyId.value.length === 0 || keyId.value.length > MAX_KEY_ID_LENGTH) {
    return fail('malformed_signature', 'keyid must be a non-empty string');
  }
  if (alg?.type !== 'string') return fail('malformed_signature', 'alg must be a string');
  if (alg.value !== SIGNATURE_ALG) return fail('unsupported', `alg must be "${SIGNATURE_ALG}"`);
  if (nonce?.type !== 'string' || !isValidNonce(nonce.value)) return fail('malformed_signature', 'nonce must be base64url of 16 bytes');
  return { ok: true, value: { covered, params: member.params, created: created.value, keyId: keyId.value, nonce: nonce.value } };
}

/** RFC 9530: a dictionary holding exactly the sha-256 digest, compared byte for byte. */
function checkDigest(headers: HeaderSource, body: Uint8Array): VerifyFailure | undefined {
  const header = headerValue(headers, 'content-digest');
  if (header === undefined) return fail('bad_digest', 'missing Content-Digest');
  if (header.length > MAX_CONTENT_DIGEST_LENGTH) return fail('bad_digest', 'Content-Digest too long');
  const parsed = parseDictionary(header);
  if (!parsed.ok) return fail('bad_digest', `Content-Digest: ${parsed.error}`);
  const [first] = parsed.value;
  if (parsed.value.length !== 1 || first === undefined || first[0] !== 'sha-256') {
    return fail('unsupported', 'Content-Digest must hold exactly one sha-256 digest');
  }
  const member = first[1];
  if (member.kind !== 'item' || member.value.type !== 'bytes' || member.params.length > 0) {
    return fail('bad_digest', 'Content-Digest sha-256 is not a byte sequence');
  }
  if (!bytesEqual(member.value.value, sha256Native(body))) return fail('bad_digest', 'Content-Digest does not match the body');
  return undefined;
}

/** RFC 9421 §3.2 for the jointban profile. Never throws on any header content. */
export function verifyRequest(input: VerifyRequestInput): VerifyResult {
  const inputHeader = headerValue(input.headers, 'signature-input');
  const sigHeader = headerValue(input.headers, 'signature');
  if (inputHeader === undefined || sigHeader === undefined) return fail('missing_signature', 'Signature-Input and Signature are required');
  if (inputHeader.length > MAX_SIGNATURE_INPUT_LENGTH) return fail('malformed_signature', 'Signature-Input too long');
  if (sigHeader.length > MAX_SIGNATURE_LENGTH) return fail('malformed_signature', 'Signature too long');

  const inputDict = parseDictionary(inputHeader);
  if (!inputDict.ok) return fail('malformed_signature', `Signature-Input: ${inputDict.error}`);
  const sigDict = parseDictionary(sigHeader);
  if (!sigDict.ok) return fail('malformed_signature', `Signature: ${sigDict.error}`);
  const inputMember = jbMember(inputDict.value, 'Signature-Input');
  if (!inputMember.ok) return inputMember;
  const sigMember = jbMember(sigDict.value, 'Signature');
  if (!sigMember.ok) return sigMember;

  const parsed = parseSignatureInput(inputMember.member, input.acceptWithoutAuthority === true ? TRANSITION_COVERED_COMPONENTS : COVERED_COMPONENTS);
  if (!parsed.ok) return parsed;
  const { covered, params, created, keyId, nonce } = parsed.value;
  const sig = sigMember.member;
  if (sig.kind !== 'item' || sig.value.type !== 'bytes' || sig.params.length > 0) {
    return fail('malformed_signature', 'Signature member is not a byte sequence');
  }
  if (sig.value.value.length !== 64) return fail('malformed_signature', 'an Ed25519 signature is 64 bytes');

  if (created > input.now + input.maxSkewSeconds) return fail('stale', 'created is in the future');
  if (created < input.now - input.maxSkewSeconds) return fail('stale', 'created is too old');

  const found = input.lookupKey(keyId);
  // A member rotating its key has two valid keys for a while (PROTOCOL.md, "Key history").
  const publicKeys = found === undefined ? [] : found instanceof Uint8Array ? [found] : found;
  if (publicKeys.length === 0) return fail('unknown_key', 'unknown or suspended member');

  const digestFailure = checkDigest(input.headers, input.body);
  if (digestFailure !== undefined) return digestFailure;

  const signature = sig.value.value;
  const verifies = (authority: string | undefined): boolean | VerifyFailure => {
    const base = buildSignatureBase(covered, params, {
      method: input.method,
      path: input.path,
      ...(authority === undefined ? {} : { authority }),
      field: (name) => headerValue(input.headers, name),
    });
    if (!base.ok) return fail(base.kind === 'unsupported' ? 'unsupported' : 'malformed_signature', base.error);
    const message = utf8(base.base);
    // OpenSSL only: anyone can send a junk signature under a member's key id, so a failure must cost
    // no more than OpenSSL's check (crypto/index.ts; docs/PROTOCOL.md, "Verification", step 8).
    return publicKeys.some((publicKey) => ed25519VerifyOpenSsl(publicKey, message, signature));
  };

  if (!covered.includes('@authority')) {
    const result = verifies(undefined);
    if (result !== true) return result === false ? fail('bad_signature', 'signature does not verify') : result;
    return { ok: true, keyId, nonce, created };
  }
  if (input.authorities.length === 0) return fail('wrong_authority', 'this node knows no authority of its own (no roster endpoint, no http.publicUrl)');
  for (const authority of input.authorities) {
    const result = verifies(authority);
    if (result === true) return { ok: true, keyId, nonce, created };
    if (result !== false) return result;
  }
  // Not for us: say so when the signature is good for the Host the request named (a replay of a
  // request meant for another node), at the cost of one more OpenSSL check.
  const received = input.receivedAuthority?.toLowerCase();
  if (received !== undefined && received.length <= 300 && !input.authorities.includes(received) && verifies(received) === true) {
    return fail('wrong_authority', `signed for ${received}; this node is ${input.authorities.join(' or ')}`);
  }
  return fail('bad_signature', 'signature does not verify');
}
