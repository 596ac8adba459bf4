import canonicalize from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { fromUtf8, toBase64, utf8 } from '../../../src/crypto/encoding.js';
import { ed25519PublicKey } from '../../../src/crypto/index.js';
import { cosignerVerifierKey, signNote, verifierKey } from '../../../src/log/note.js';
import {
  MAX_ROSTER_TEXT_BYTES,
  ROSTER_NOTE_HEADER,
  acceptRoster,
  activePeers,
  checkRoster,
  entryAllowed,
  formatRosterText,
  memberKey,
  memberStatusAt,
  openRoster,
  parseRosterText,
  parseTrustRoot,
  signRoster,
  trustRootVerifierKey,
  type Roster,
  type RosterMember,
} from '../../../src/roster/index.js';
import { FEDERATION, ROOT_PUBLIC, ROOT_SECRET, SUSPENDED_AT, TRUST_ROOT, sampleRoster, seed } from './fixtures.js';

/** Signs arbitrary text with the trust root, to reach the checks behind the signature. */
function signedByRoot(text: string, name = TRUST_ROOT.name): string {
  return signNote(text, [{ name, secretKey: ROOT_SECRET }]);
}

function withMember(index: number, patch: Partial<RosterMember>): Roster {
  const roster = sampleRoster();
  roster.members[index] = { ...(roster.members[index] as RosterMember), ...patch };
  return roster;
}

function expectRefused(result: { ok: boolean; error?: string }, pattern: RegExp): void {
  expect(result.ok).toBe(false);
  expect(result.error).toMatch(pattern);
}

describe('sign and open', () => {
  it('round-trips a roster through its signed note', () => {
    const roster = sampleRoster();
    const note = signRoster(roster, ROOT_SECRET);
    expect(note.startsWith(`${ROSTER_NOTE_HEADER}\n{`)).toBe(true);
    expect(note).toContain(`\n\n\u2014 ${FEDERATION}/roster `);
    expect(openRoster(note, TRUST_ROOT)).toEqual({ ok: true, roster });
  });

  it('writes the text as the header line and one line of RFC 8785 JSON', () => {
    const roster = sampleRoster();
    const text = formatRosterText(roster);
    expect(text).toBe(`${ROSTER_NOTE_HEADER}\n${canonicalize(roster)}\n`);
    expect(text.split('\n')).toHaveLength(3);
    expect(parseRosterText(text)).toEqual({ ok: true, roster });
  });

  it('refuses a roster object with fields outside the format', () => {
    const roster = { ...sampleRoster(), extra: 1 } as Roster;
    expect(() => formatRosterText(roster)).toThrow(/Unrecognized key/);
  });

  it('refuses to sign an invalid roster', () => {
    expect(() => signRoster(sampleRoster({ version: 0 }), ROOT_SECRET)).toThrow(TypeError);
  });
});

describe('a roster signed by another key', () => {
  it('is refused, even under the right key name', () => {
    const note = signRoster(sampleRoster(), seed(9));
    expectRefused(openRoster(note, TRUST_ROOT), /no signature by a known key/);
  });

  it('is refused when the trust root key is a member key', () => {
    const note = signRoster(sampleRoster(), ROOT_SECRET);
    expectRefused(openRoster(note, { name: TRUST_ROOT.name, publicKey: ed25519PublicKey(seed(2)) }), /signature/);
  });
});

describe('a tampered note', () => {
  it('is refused whichever byte changes', () => {
    const note = signRoster(sampleRoster(), ROOT_SECRET);
    const bytes = utf8(note);
    let tried = 0;
    for (let i = 0; i < bytes.length; i++) {
      const copy = Uint8Array.from(bytes);
      copy[i] = (copy[i] as number) ^ 0x01;
      let mutated: string;
      try {
        mutated = fromUtf8(copy);
      } catch {
        continue; // invalid UTF-8 never reaches the note parser
      }
      tried++;
      expect(openRoster(mutated, TRUST_ROOT).ok, `byte ${i}`).toBe(false);
    }
    expect(tried).toBeGreaterThan(bytes.length / 2);
  });
});

describe('the key name', () => {
  it('must be the one the trust root is configured with', () => {
    const note = signRoster(sampleRoster(), ROOT_SECRET);
    expectRefused(openRoster(note, { name: 'other.example/roster', publicKey: ROOT_PUBLIC }), /no signature by a known key/);
  });

  it("must be <federation>/roster for the roster's own federation", () => {
    const other = { name: 'other.example/roster', publicKey: ROOT_PUBLIC };
    const note = signedByRoot(formatRosterText(sampleRoster()), other.name);
    expectRefused(openRoster(note, other), /federation jointban\.example/);
  });

  it('cannot be a member log key name', () => {
    const note = signedByRoot(formatRosterText(sampleRoster()), `${FEDERATION}/assoc`);
    expectRefused(openRoster(note, TRUST_ROOT), /no signature by a known key/);
  });
});

describe('accepting a roster', () => {
  const held = sampleRoster();

  it('accepts the first roster and a newer one', () => {
    expect(acceptRoster(undefined, held)).toEqual({ ok: true, changed: true });
    expect(acceptRoster(held, sampleRoster({ version: 4 }))).toEqual({ ok: true, changed: true });
  });

  it('refuses an older version', () => {
    expect(acceptRoster(held, sampleRoster({ version: 2 }))).toMatchObject({ ok: false, reason: 'older_version' });
  });

  it('refuses the same version with different content', () => {
    expect(acceptRoster(held, sampleRoster({ issuedAt: '2025-04-02T00:00:00.000Z' }))).toMatchObject({
      ok: false,
      reason: 'conflicting_version',
    });
    expect(acceptRoster(held, withMember(0, { name: 'Alpha' }))).toMatchObject({ ok: false, reason: 'conflicting_version' });
  });

  it('accepts the same version with the same content, as no change', () => {
    expect(acceptRoster(held, sampleRoster())).toEqual({ ok: true, changed: false });
  });

  it('refuses a different federation', () => {
    expect(acceptRoster(held, sampleRoster({ federation: 'other.example', version: 9 }))).toMatchObject({
      ok: false,
      reason: 'federation_mismatch',
    });
  });
});

describe('non-canonical JSON', () => {
  const roster = sampleRoster();
  const variants: [string, string][] = [
    ['keys in insertion order', JSON.stringify(roster)],
    ['white space', canonicalize(roster)?.replace('"version":', '"version": ') ?? ''],
    ['an escaped non-ASCII character', canonicalize(roster)?.replace('演', '\\u6f14') ?? ''],
    ['a number with an exponent', canonicalize(roster)?.replace('"version":3', '"version":3e0') ?? ''],
  ];
  for (const [what, json] of variants) {
    it(`is refused: ${what}`, () => {
      const text = `${ROSTER_NOTE_HEADER}\n${json}\n`;
      expect(JSON.parse(json)).toEqual(roster);
      expectRefused(parseRosterText(text), /canonical/);
      expectRefused(openRoster(signedByRoot(text), TRUST_ROOT), /canonical/);
    });
  }

  it('is refused with a second JSON line, a missing header or no final newline', () => {
    const json = canonicalize(roster) ?? '';
    expectRefused(parseRosterText(`${ROSTER_NOTE_HEADER}\n${json}\n{}\n`), /two lines/);
    expectRefused(parseRosterText(`${json}\n`), /must start/);
    expectRefused(parseRosterText(`jointban-roster/v2\n${json}\n`), /must start/);
    expectRefused(parseRosterText(`${ROSTER_NOTE_HEADER}\n${json}`), /newline/);
    expectRefused(parseRosterText(`${ROSTER_NOTE_HEADER}\n{"federation":\n`), /not valid JSON/);
  });

  it('is refused above the size cap, before parsing', () => {
    expectRefused(parseRosterText(`${ROSTER_NOTE_HEADER}\n${' '.repeat(MAX_ROSTER_TEXT_BYTES)}\n`), /exceeds/);
  });
});

describe('schema failures', () => {
  const cases: [string, unknown, RegExp][] = [
    ['a duplicate id', withMember(2, { id: 'assoc' }), /duplicate member id/],
    ['unsorted members', { ...sampleRoster(), members: [...sampleRoster().members].reverse() }, /sorted/],
    ['a duplicate public key', withMember(0, { publicKey: toBase64(ROOT_PUBLIC) }), /duplicate public key/],
    ['two associations', withMember(0, { role: 'association' }), /exactly one .*association \(found 2\)/],
    ['no association', withMember(1, { role: 'member' }), /exactly one .*association \(found 0\)/],
    ['a suspended association', withMember(1, { status: 'suspended', suspendedAt: SUSPENDED_AT }), /association cannot be suspended/],
    ['an endpoint with credentials', withMember(0, { endpoint: 'https://u:p@alpha.example' }), /members\[0\]\.endpoint/],
    ['an endpoint with a fragment', withMember(0, { endpoint: 'https://alpha.example#x' }), /members\[0\]\.endpoint/],
    ['an endpoint with a query', withMember(0, { endpoint: 'https://alpha.example?x=1' }), /members\[0\]\.endpoint/],
    ['an endpoint with a trailing slash', withMember(0, { endpoint: 'https://alpha.example/' }), /members\[0\]\.endpoint/],
    ['an ftp endpoint', withMember(0, { endpoint: 'ftp://alpha.example' }), /members\[0\]\.endpoint/],
    ['an upper-case host', withMember(0, { endpoint: 'https://Alpha.example' }), /members\[0\]\.endpoint/],
    ['port 0', withMember(0, { endpoint: 'https://alpha.example:0' }), /members\[0\]\.endpoint/],
    ['a port above 65535', withMember(0, { endpoint: 'https://alpha.example:65536' }), /members\[0\]\.endpoint/],
    ['suspended without suspendedAt', withMember(2, { suspendedAt: undefined }), /suspendedAt: required/],
    ['suspendedAt on an active member', withMember(0, { suspendedAt: SUSPENDED_AT }), /only allowed when status is suspended/],
    ['suspendedAt before since', withMember(2, { suspendedAt: '2025-01-01T00:00:00.000Z' }), /before since/],
    ['suspendedAt after issuedAt', withMember(2, { suspendedAt: '2025-05-01T00:00:00.000Z' }), /after the roster's issuedAt/],
    ['since after issuedAt', withMember(0, { since: '2025-05-01T00:00:00.000Z' }), /after the roster's issuedAt/],
    ['a time not in toISOString form', withMember(0, { since: '2025-01-01T00:00:00Z' }), /members\[0\]\.since/],
    ['a bad id', withMember(0, { id: 'Alpha' }), /members\[0\]\.id/],
    ['the reserved id roster', withMember(2, { id: 'roster' }), /reserved/],
    ['an empty name', withMember(0, { name: '' }), /members\[0\]\.name/],
    ['a name with a control character', withMember(0, { name: 'Alpha\u0007' }), /members\[0\]\.name/],
    ['a name with a bidi override', withMember(0, { name: 'Alpha\u202e' }), /members\[0\]\.name/],
    ['a name with white space at an end', withMember(0, { name: 'Alpha ' }), /members\[0\]\.name/],
    ['a name of 101 characters', withMember(0, { name: '演'.repeat(101) }), /members\[0\]\.name/],
    ['a 31-byte public key', withMember(0, { publicKey: toBase64(new Uint8Array(31)) }), /publicKey/],
    ['a hex public key', withMember(0, { publicKey: '00'.repeat(32) }), /publicKey/],
    ['an unknown status', withMember(0, { status: 'banned' as 'active' }), /status/],
    ['an unknown member field', withMember(0, { note: 'x' } as Partial<RosterMember>), /unrecognized|note/i],
    ['an unknown top-level field', { ...sampleRoster(), extra: true }, /unrecognized|extra/i],
    ['version 0', sampleRoster({ version: 0 }), /version/],
    ['a fractional version', sampleRoster({ version: 1.5 }), /version/],
    ['a bad federation name', sampleRoster({ federation: 'Jointban Example' }), /federation/],
    ['no members', sampleRoster({ members: [] }), /at least the association/],
  ];
  for (const [what, value, pattern] of cases) {
    it(`refuses ${what}`, () => {
      expectRefused(checkRoster(value), pattern);
      const json = canonicalize(value);
      if (json !== undefined) expectRefused(parseRosterText(`${ROSTER_NOTE_HEADER}\n${json}\n`), pattern);
    });
  }

  it('accepts a 100-character name, IPv6 and percent-escaped endpoints', () => {
    expect(checkRoster(withMember(0, { name: '演'.repeat(100) })).ok).toBe(true);
    expect(checkRoster(withMember(0, { endpoint: 'http://[::1]:7300' })).ok).toBe(true);
    expect(checkRoster(withMember(0, { endpoint: 'https://alpha.example/a%20b/c' })).ok).toBe(true);
  });
});

describe('member status and entries around a suspension', () => {
  const roster = sampleRoster();
  const before = '2025-02-28T23:59:59.999Z';
  const after = '2025-03-01T00:00:00.001Z';

  it('is active before the suspension instant', () => {
    expect(memberStatusAt(roster, 'beta', before)).toBe('active');
    expect(entryAllowed(roster, 'beta', before)).toEqual({ ok: true });
  });

  it('is suspended at the suspension instant', () => {
    expect(memberStatusAt(roster, 'beta', SUSPENDED_AT)).toBe('suspended');
    expect(entryAllowed(roster, 'beta', SUSPENDED_AT)).toEqual({ ok: false, reason: 'suspended' });
  });

  it('is suspended after the suspension instant', () => {
    expect(memberStatusAt(roster, 'beta', after)).toBe('suspended');
    expect(entryAllowed(roster, 'beta', after)).toEqual({ ok: false, reason: 'suspended' });
  });

  it('treats an unparseable time as after the suspension', () => {
    expect(memberStatusAt(roster, 'beta', 'yesterday')).toBe('suspended');
    expect(memberStatusAt(roster, 'alpha', 'yesterday')).toBe('active');
  });

  it('keeps an active member active at any time', () => {
    expect(memberStatusAt(roster, 'alpha', '2099-01-01T00:00:00.000Z')).toBe('active');
    expect(entryAllowed(roster, 'alpha', after)).toEqual({ ok: true });
  });
});

describe('an unknown member', () => {
  const roster = sampleRoster();

  it('has no status, no key, and its entries are refused', () => {
    expect(memberStatusAt(roster, 'gamma', SUSPENDED_AT)).toBe('unknown');
    expect(memberKey(roster, 'gamma')).toBeUndefined();
    expect(entryAllowed(roster, 'gamma', SUSPENDED_AT)).toEqual({ ok: false, reason: 'unknown_member' });
  });
});

describe('lookups', () => {
  const roster = sampleRoster();

  it('returns member keys whatever their status', () => {
    expect(memberKey(roster, 'alpha')).toEqual(ed25519PublicKey(seed(2)));
    expect(memberKey(roster, 'beta')).toEqual(ed25519PublicKey(seed(3)));
  });

  it('lists active peers other than self', () => {
    expect(activePeers(roster, 'alpha').map((m) => m.id)).toEqual(['assoc']);
    expect(activePeers(roster, 'assoc').map((m) => [m.id, m.endpoint])).toEqual([['alpha', 'https://alpha.example']]);
  });
});

describe('the trust root verifier key', () => {
  it('round-trips through parseTrustRoot', () => {
    const text = trustRootVerifierKey(FEDERATION, ROOT_PUBLIC);
    expect(text.startsWith(`${FEDERATION}/roster+`)).toBe(true);
    expect(parseTrustRoot(text)).toEqual({ ok: true, trustRoot: { federation: FEDERATION, ...TRUST_ROOT } });
    expect(parseTrustRoot(text, FEDERATION).ok).toBe(true);
  });

  it('refuses another federation, a log key, a cosigner key and garbage', () => {
    expectRefused(parseTrustRoot(trustRootVerifierKey(FEDERATION, ROOT_PUBLIC), 'other.example'), /not other\.example/);
    expectRefused(parseTrustRoot(verifierKey(`${FEDERATION}/assoc`, ROOT_PUBLIC)), /must end in \/roster/);
    expectRefused(parseTrustRoot(cosignerVerifierKey(TRUST_ROOT.name, ROOT_PUBLIC)), /type 0x01/);
    expectRefused(parseTrustRoot(verifierKey('Bad_Fed/roster', ROOT_PUBLIC)), /does not name a federation/);
    expectRefused(parseTrustRoot('jointban.example/roster+00000000+AAAA'), /trust root/);
    expectRefused(parseTrustRoot(''), /trust root/);
  });
});
