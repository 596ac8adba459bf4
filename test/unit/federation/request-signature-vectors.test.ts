/** RFC 9421 Appendix B.2.6 (Ed25519) and our own profile's vectors in test/vectors/request-signature.json. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fromHex, toBase64, utf8 } from '../../../src/crypto/encoding.js';
import { ed25519PublicKey, ed25519Sign, ed25519Verify } from '../../../src/crypto/index.js';
import { requestSignatureBase, signRequest } from '../../../src/federation/request-signature.js';
import { verifyRequest } from '../../../src/federation/request-verification.js';
import { buildSignatureBase } from '../../../src/federation/signature-base.js';
import { parseDictionary, serializeDictionary, type Parameters as SfParameters } from '../../../src/federation/structured-fields.js';

/** Base64url without padding, as RFC 7517 JWKs carry key bytes. */
const b64url = (text: string): Uint8Array => new Uint8Array(Buffer.from(text, 'base64url'));

describe('RFC 9421 Appendix B.2.6 (Ed25519) vector', () => {
  // RFC 9421 B.1.4 test-key-ed25519 (JWK d and x) and the B.2 test-request.
  const seed = b64url('n4Ni-HpISpVObnQMW0wOhCKROaIKqKtW_2ZYb2p9KcU');
  const publicKey = b64url('JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs');
  const signatureInput = 'sig-b26=("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
  const signature = 'sig-b26=:wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==:';
  const expectedBase = [
    '"date": Tue, 20 Apr 2021 02:07:55 GMT',
    '"@method": POST',
    '"@path": /foo',
    '"@authority": example.com',
    '"content-type": application/json',
    '"content-length": 18',
    '"@signature-params": ("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"',
  ].join('\n');
  const fields: Record<string, string> = {
    date: 'Tue, 20 Apr 2021 02:07:55 GMT',
    'content-type': 'application/json',
    'content-length': '18',
  };

  function parsedInput(): { covered: string[]; params: SfParameters } {
    const dict = parseDictionary(signatureInput);
    if (!dict.ok) throw new Error(dict.error);
    const member = dict.value[0]?.[1];
    if (member?.kind !== 'inner-list') throw new Error('not an inner list');
    return { covered: member.items.map((i) => String(i.value.value)), params: member.params };
  }

  it('the key pair matches', () => {
    expect(ed25519PublicKey(seed)).toEqual(publicKey);
  });

  it('builds the exact signature base from the parsed Signature-Input', () => {
    const { covered, params } = parsedInput();
    // The message's Host header is "example.com"; its query (?param=Value&Pet=dog) is not part of @path.
    const base = buildSignatureBase(covered, params, { method: 'POST', path: '/foo', authority: 'Example.COM', field: (n) => fields[n] });
    expect(base).toEqual({ ok: true, base: expectedBase, signatureParams: signatureInput.slice('sig-b26='.length) });
  });

  it('signing the base with the RFC key reproduces the RFC signature, which verifies', () => {
    const sigDict = parseDictionary(signature);
    if (!sigDict.ok) throw new Error(sigDict.error);
    const member = sigDict.value[0]?.[1];
    if (member?.kind !== 'item' || member.value.type !== 'bytes') throw new Error('not a byte sequence');
    expect(toBase64(ed25519Sign(seed, utf8(expectedBase)))).toBe(toBase64(member.value.value));
    expect(ed25519Verify(publicKey, utf8(expectedBase), member.value.value)).toBe(true);
  });

  it('re-serialises both fields exactly (RFC 8941 §4.1)', () => {
    for (const text of [signatureInput, signature]) {
      const dict = parseDictionary(text);
      if (!dict.ok) throw new Error(dict.error);
      expect(serializeDictionary(dict.value)).toBe(text);
    }
  });
});

interface Vectors {
  key: { seed: string; publicKey: string; keyId: string };
  maxSkewSeconds: number;
  vectors: Array<{
    comment: string;
    valid: boolean;
    method: string;
    path: string;
    /** The authority the verifier is known under, and the signer signs for; absent: the transition profile. */
    authority?: string;
    /** The Host the verifier received, when it differs from `authority`. */
    host?: string;
    body: string;
    now: number;
    created?: number;
    nonce?: string;
    expected?: { contentDigest: string; signatureInput: string; signatureBase: string; signature: string };
    headers?: Record<string, string>;
    expectedCode?: string;
  }>;
}

describe('test/vectors/request-signature.json', () => {
  const v = JSON.parse(readFileSync(new URL('../../vectors/request-signature.json', import.meta.url), 'utf8')) as Vectors;
  const seed = fromHex(v.key.seed) as Uint8Array;
  const publicKey = fromHex(v.key.publicKey) as Uint8Array;
  const lookupKey = (id: string) => (id === v.key.keyId ? publicKey : undefined);

  it('the key pair matches', () => expect(ed25519PublicKey(seed)).toEqual(publicKey));

  it('covers the current profile and the transition one, and a request for another node', () => {
    expect(v.vectors.filter((t) => t.valid && t.authority !== undefined).length).toBeGreaterThanOrEqual(2);
    expect(v.vectors.filter((t) => t.authority === undefined).length).toBeGreaterThanOrEqual(2);
    expect(v.vectors.map((t) => t.expectedCode)).toContain('wrong_authority');
  });

  for (const t of v.vectors) {
    it(`${t.valid ? 'valid' : 'invalid'}${t.authority === undefined ? ' (transition profile)' : ''}: ${t.comment}`, () => {
      const body = utf8(t.body);
      const authority = t.authority ?? null;
      const verifier = {
        method: t.method,
        path: t.path,
        authorities: t.authority === undefined ? [] : [t.authority],
        receivedAuthority: t.host,
        acceptWithoutAuthority: t.authority === undefined,
        body,
        now: t.now,
        maxSkewSeconds: v.maxSkewSeconds,
        lookupKey,
      };
      if (t.valid) {
        const { created, nonce, expected } = t as Required<typeof t>;
        const headers = signRequest({ method: t.method, path: t.path, authority, body, keyId: v.key.keyId, secretKey: seed, created, nonce });
        expect(headers).toEqual({ 'content-digest': expected.contentDigest, 'signature-input': expected.signatureInput, signature: expected.signature });
        const base = requestSignatureBase({ method: t.method, path: t.path, authority, contentDigest: expected.contentDigest, created, keyId: v.key.keyId, nonce });
        expect(base).toBe(expected.signatureBase);
        expect(verifyRequest({ ...verifier, headers })).toEqual({ ok: true, keyId: v.key.keyId, nonce, created });
      } else {
        expect(verifyRequest({ ...verifier, headers: t.headers ?? {} })).toMatchObject({ ok: false, code: t.expectedCode });
      }
    });
  }
});
