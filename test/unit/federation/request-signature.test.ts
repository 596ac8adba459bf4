/** Our profile, one describe per failure mode; the RFC and file vectors are in request-signature-vectors.test.ts. */
import { describe, expect, it } from 'vitest';
import { toBase64, toBase64Url, utf8 } from '../../../src/crypto/encoding.js';
import { ed25519Sign, generateEd25519KeyPair } from '../../../src/crypto/index.js';
import { contentDigest, ownAuthorities, signRequest, type SignedRequestHeaders, type SignRequestInput } from '../../../src/federation/request-signature.js';
import { verifyRequest, type VerifyRequestInput, type VerifyResult } from '../../../src/federation/request-verification.js';
import { buildSignatureBase } from '../../../src/federation/signature-base.js';
import type { Parameters as SfParameters } from '../../../src/federation/structured-fields.js';

const alpha = generateEd25519KeyPair();
const beta = generateEd25519KeyPair();
const NOW = 1_750_000_000;
const SKEW = 300;
const BODY = utf8('{"entries":[1,2,3]}');
const roster: Record<string, Uint8Array> = { alpha: alpha.publicKey, beta: beta.publicKey };
/** The node verifying in these tests is known to its peers as this authority. */
const HERE = 'node.example';

function signed(over: Partial<SignRequestInput> = {}): SignedRequestHeaders {
  return signRequest({ method: 'POST', path: '/federation/v1/notify', authority: HERE, body: BODY, keyId: 'alpha', secretKey: alpha.secretKey, created: NOW, ...over });
}

function verify(headers: VerifyRequestInput['headers'], over: Partial<VerifyRequestInput> = {}): VerifyResult {
  return verifyRequest({
    method: 'POST',
    path: '/federation/v1/notify',
    authorities: [HERE],
    body: BODY,
    headers,
    now: NOW,
    maxSkewSeconds: SKEW,
    lookupKey: (id) => roster[id],
    ...over,
  });
}

function code(result: VerifyResult): string {
  return result.ok ? 'ok' : result.code;
}

/** Re-sign a hand-made Signature-Input (covered components and params) with alpha's key. */
function signedCustom(covered: string[], params: SfParameters, fields: Record<string, string>): Record<string, string> {
  const base = buildSignatureBase(covered, params, { method: 'POST', path: '/federation/v1/notify', authority: HERE, field: (n) => fields[n] });
  if (!base.ok) throw new Error(base.error);
  return { ...fields, 'signature-input': `jb=${base.signatureParams}`, signature: `jb=:${toBase64(ed25519Sign(alpha.secretKey, utf8(base.base)))}:` };
}

const NONCE = toBase64Url(new Uint8Array(16).fill(7));
const goodParams = (): SfParameters => [
  ['created', { type: 'integer', value: NOW }],
  ['keyid', { type: 'string', value: 'alpha' }],
  ['alg', { type: 'string', value: 'ed25519' }],
  ['nonce', { type: 'string', value: NONCE }],
];

describe('sign → verify round trip', () => {
  it('verifies with a plain header record and with a Headers object', () => {
    const h = signed();
    expect(verify(h)).toMatchObject({ ok: true, keyId: 'alpha', created: NOW });
    expect(verify(new Headers(h))).toMatchObject({ ok: true, keyId: 'alpha' });
    expect(verify({ 'Content-Digest': h['content-digest'], 'Signature-Input': h['signature-input'], Signature: h.signature }).ok).toBe(true);
  });

  it('uses a fresh 16-byte base64url nonce per request', () => {
    const a = verify(signed());
    const b = verify(signed());
    if (!a.ok || !b.ok) throw new Error('expected success');
    expect(a.nonce).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(a.nonce).not.toBe(b.nonce);
  });

  it('signs and verifies an empty GET body', () => {
    const h = signed({ method: 'GET', body: new Uint8Array(0) });
    expect(h['content-digest']).toBe(contentDigest(new Uint8Array(0)));
    expect(verify(h, { method: 'GET', body: new Uint8Array(0) }).ok).toBe(true);
  });

  it('accepts a signature covering more header fields than required', () => {
    const h = signed();
    const extra = signedCustom(['@method', '@authority', '@path', 'content-digest', 'content-type'], goodParams(), {
      'content-digest': h['content-digest'],
      'content-type': 'application/json',
    });
    expect(verify(extra).ok).toBe(true);
  });

  it('rejects bad input at signing time (a caller bug)', () => {
    expect(() => signed({ path: '/a?b=c' })).toThrow(RangeError);
    expect(() => signed({ nonce: 'short' })).toThrow(RangeError);
    expect(() => signed({ created: 1.5 })).toThrow(RangeError);
    expect(() => signed({ keyId: 'a\nb' })).toThrow(RangeError);
    expect(() => signed({ authority: 'Node.Example' })).toThrow(RangeError);
    expect(() => signed({ authority: 'node.example/path' })).toThrow(RangeError);
  });
});

describe('missing headers', () => {
  it('no Signature-Input or no Signature → missing_signature', () => {
    const h = signed();
    expect(code(verify({}))).toBe('missing_signature');
    expect(code(verify({ ...h, signature: undefined }))).toBe('missing_signature');
    expect(code(verify({ ...h, 'signature-input': undefined }))).toBe('missing_signature');
    expect(code(verify({ ...h, 'signature-input': '', signature: '' }))).toBe('missing_signature');
  });

  it('no Content-Digest → bad_digest', () => {
    expect(code(verify({ ...signed(), 'content-digest': undefined }))).toBe('bad_digest');
  });
});

describe('malformed structured fields', () => {
  const h = signed();
  const cases: Array<[string, Record<string, string>]> = [
    ['unterminated inner list', { 'signature-input': 'jb=("@method" "@path"' }],
    ['trailing comma', { 'signature-input': `${h['signature-input']},` }],
    ['bad string escape', { 'signature-input': h['signature-input'].replace('"alpha"', '"al\\pha"') }],
    ['non-ASCII', { 'signature-input': h['signature-input'].replace('alpha', 'alphä') }],
    ['signature not a byte sequence', { signature: 'jb="abc"' }],
    ['non-canonical base64', { signature: h.signature.replace('==:', ':') }],
    ['signature of the wrong length', { signature: `jb=:${toBase64(new Uint8Array(63))}:` }],
    ['duplicate label', { signature: `${h.signature}, ${h.signature}` }],
    ['duplicate parameter', { 'signature-input': `${h['signature-input']};created=${NOW}` }],
    ['created not an integer', { 'signature-input': h['signature-input'].replace(`created=${NOW}`, `created="${NOW}"`) }],
    ['created negative', { 'signature-input': h['signature-input'].replace(`created=${NOW}`, 'created=-1') }],
    ['nonce not 16 bytes', { 'signature-input': h['signature-input'].replace(/nonce="[^"]*"/, 'nonce="AAAA"') }],
    ['keyid missing', { 'signature-input': h['signature-input'].replace(';keyid="alpha"', '') }],
    ['nonce missing', { 'signature-input': h['signature-input'].replace(/;nonce="[^"]*"/, '') }],
    ['member not an inner list', { 'signature-input': 'jb="@method"' }],
    ['component duplicated', { 'signature-input': h['signature-input'].replace('"@path"', '"@path" "@path"') }],
    ['upper-case field name', { 'signature-input': h['signature-input'].replace('"content-digest"', '"Content-Digest" "content-digest"') }],
    ['oversized Signature-Input', { 'signature-input': `jb=("@method" "@path" "content-digest" ${'"x" '.repeat(300)})` }],
    ['oversized Signature', { signature: `jb=:${toBase64(new Uint8Array(200))}:` }],
  ];
  for (const [name, change] of cases) {
    it(`${name} → malformed_signature`, () => expect(code(verify({ ...h, ...change }))).toBe('malformed_signature'));
  }

  it('never throws on random junk', () => {
    const junk = ['(', ')', '"', '\\', ':', ';', '=', ',', ' ', '\t', 'jb', '?1', '-', '1.5', '*', 'é', '\u0000'];
    for (let i = 0; i < 1000; i++) {
      let text = '';
      for (let j = 0; j < 1 + (i % 30); j++) text += junk[(i * 7 + j * 13 + ((i * j) % 5)) % junk.length];
      expect(() => verify({ ...h, 'signature-input': text })).not.toThrow();
      expect(() => verify({ ...h, signature: text, 'content-digest': text })).not.toThrow();
    }
  });
});

describe('unsupported profiles', () => {
  const h = signed();
  const cases: Array<[string, Record<string, string>]> = [
    ['another label', { 'signature-input': h['signature-input'].replace(/^jb=/, 'sig1='), signature: h.signature.replace(/^jb=/, 'sig1=') }],
    ['a second label', { 'signature-input': `${h['signature-input']}, other=("@method");created=1` }],
    ['another algorithm', { 'signature-input': h['signature-input'].replace('"ed25519"', '"rsa-pss-sha512"') }],
    ['an unknown parameter', { 'signature-input': `${h['signature-input']};tag="x"` }],
    ['a component parameter', { 'signature-input': h['signature-input'].replace('"content-digest"', '"content-digest";sf') }],
    ['an unsupported derived component', { 'signature-input': h['signature-input'].replace('"@path"', '"@path" "@query"') }],
    ['another digest algorithm', { 'content-digest': `sha-512=:${toBase64(new Uint8Array(64))}:` }],
  ];
  for (const [name, change] of cases) {
    it(`${name} → unsupported`, () => expect(code(verify({ ...h, ...change }))).toBe('unsupported'));
  }
});

describe('wrong digest (body changed)', () => {
  it('a changed body → bad_digest', () => {
    expect(code(verify(signed(), { body: utf8('{"entries":[1,2,4]}') }))).toBe('bad_digest');
  });
  it('a digest of the wrong length or a garbled digest field → bad_digest', () => {
    expect(code(verify({ ...signed(), 'content-digest': `sha-256=:${toBase64(new Uint8Array(31))}:` }))).toBe('bad_digest');
    expect(code(verify({ ...signed(), 'content-digest': 'sha-256=:not base64:' }))).toBe('bad_digest');
  });
  it('a digest header swapped to match a new body → bad_signature (the digest is signed)', () => {
    const other = utf8('{"entries":[]}');
    expect(code(verify({ ...signed(), 'content-digest': contentDigest(other) }, { body: other }))).toBe('bad_signature');
  });
});

describe('method or path changed', () => {
  it('another method → bad_signature', () => expect(code(verify(signed(), { method: 'PUT' }))).toBe('bad_signature'));
  it('another path → bad_signature', () => expect(code(verify(signed(), { path: '/federation/v1/notify/' }))).toBe('bad_signature'));
});

describe('unknown key', () => {
  it('a keyid not in the roster (or suspended) → unknown_key', () => {
    expect(code(verify(signed({ keyId: 'gamma' })))).toBe('unknown_key');
    expect(code(verify(signed(), { lookupKey: () => undefined }))).toBe('unknown_key');
  });
});

describe('a member with several keys (a key rotation overlap)', () => {
  it('verifies under any of the keys given, and fails under none of them', () => {
    const next = generateEd25519KeyPair();
    expect(code(verify(signed(), { lookupKey: () => [next.publicKey, alpha.publicKey] }))).toBe('ok');
    expect(code(verify(signed({ secretKey: next.secretKey }), { lookupKey: () => [alpha.publicKey, next.publicKey] }))).toBe('ok');
    expect(code(verify(signed({ secretKey: next.secretKey }), { lookupKey: () => [alpha.publicKey] }))).toBe('bad_signature');
    expect(code(verify(signed(), { lookupKey: () => [] }))).toBe('unknown_key');
  });
});

describe('stale', () => {
  it('accepts created exactly at the edges of the window', () => {
    expect(verify(signed({ created: NOW - SKEW })).ok).toBe(true);
    expect(verify(signed({ created: NOW + SKEW })).ok).toBe(true);
  });
  it('too old → stale', () => expect(code(verify(signed({ created: NOW - SKEW - 1 })))).toBe('stale'));
  it('too far in the future → stale', () => expect(code(verify(signed({ created: NOW + SKEW + 1 })))).toBe('stale'));
});

describe('wrong key', () => {
  it('signed by beta but claiming to be alpha → bad_signature', () => {
    expect(code(verify(signed({ secretKey: beta.secretKey })))).toBe('bad_signature');
  });
  it('a flipped signature bit → bad_signature', () => {
    const h = signed();
    const sig = h.signature.startsWith('jb=:A') ? h.signature.replace('jb=:A', 'jb=:B') : h.signature.replace(/^jb=:./, 'jb=:A');
    expect(code(verify({ ...h, signature: sig }))).toBe('bad_signature');
  });
});

describe('covered components missing content-digest', () => {
  it('a valid signature over @method and @path only → malformed_signature', () => {
    const h = signed();
    const weak = signedCustom(['@method', '@authority', '@path'], goodParams(), { 'content-digest': h['content-digest'] });
    expect(code(verify(weak))).toBe('malformed_signature');
  });
  it('a valid signature without @method or @path → malformed_signature', () => {
    const h = signed();
    const fields = { 'content-digest': h['content-digest'] };
    expect(code(verify(signedCustom(['@authority', '@path', 'content-digest'], goodParams(), fields)))).toBe('malformed_signature');
    expect(code(verify(signedCustom(['@method', '@authority', 'content-digest'], goodParams(), fields)))).toBe('malformed_signature');
  });
});

describe('the target authority (@authority)', () => {
  it('a request signed for another node, naming it in Host → wrong_authority', () => {
    const forBeta = signed({ authority: 'beta.example:8443' });
    expect(verify(forBeta, { authorities: ['beta.example:8443'] }).ok).toBe(true);
    const result = verify(forBeta, { receivedAuthority: 'beta.example:8443' });
    expect(code(result)).toBe('wrong_authority');
    // Host is compared in lower case, as @authority is (RFC 9421 §2.2.3).
    expect(code(verify(forBeta, { receivedAuthority: 'BETA.example:8443' }))).toBe('wrong_authority');
  });

  it('signed for another node, with Host rewritten to this one (or absent) → bad_signature', () => {
    const forBeta = signed({ authority: 'beta.example' });
    expect(code(verify(forBeta, { receivedAuthority: HERE }))).toBe('bad_signature');
    expect(code(verify(forBeta))).toBe('bad_signature');
  });

  it('is checked against the authorities this node is known under, not the Host it received (a proxy may rewrite Host)', () => {
    expect(verify(signed(), { receivedAuthority: '127.0.0.1:7300' }).ok).toBe(true);
    // Known under its roster endpoint and a new public URL: a request for either is accepted.
    const both = ['old.example', HERE];
    expect(verify(signed(), { authorities: both }).ok).toBe(true);
    expect(verify(signed({ authority: 'old.example' }), { authorities: both }).ok).toBe(true);
  });

  it('a node that knows no authority of its own refuses signatures covering one → wrong_authority', () => {
    expect(code(verify(signed(), { authorities: [] }))).toBe('wrong_authority');
  });

  it('a signature without @authority → malformed_signature, except during an upgrade transition', () => {
    const old = signed({ authority: null });
    expect(old['signature-input']).toMatch(/^jb=\("@method" "@path" "content-digest"\);/);
    expect(code(verify(old))).toBe('malformed_signature');
    expect(verify(old, { acceptWithoutAuthority: true }).ok).toBe(true);
    // The transition accepts the old profile; a signature for another node is still refused.
    expect(code(verify(signed({ authority: 'beta.example' }), { acceptWithoutAuthority: true, receivedAuthority: 'beta.example' }))).toBe('wrong_authority');
    expect(verify(signed(), { acceptWithoutAuthority: true }).ok).toBe(true);
  });

  it('ownAuthorities: host[:port] of the roster endpoint and http.publicUrl, default ports dropped, each once', () => {
    expect(ownAuthorities(['https://Jointban.Alpha.example:443/base', 'https://jointban.alpha.example'])).toEqual(['jointban.alpha.example']);
    expect(ownAuthorities(['http://127.0.0.1:7300', undefined, 'https://alpha.example:8443/x'])).toEqual(['127.0.0.1:7300', 'alpha.example:8443']);
    expect(ownAuthorities([undefined, 'not a url'])).toEqual([]);
  });
});
