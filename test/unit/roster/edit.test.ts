import { describe, expect, it } from 'vitest';
import { toBase64, toHex } from '../../../src/crypto/encoding.js';
import { ed25519PublicKey } from '../../../src/crypto/index.js';
import {
  addMember,
  createDraft,
  draftMatchesRoster,
  normaliseEndpointInput,
  parsePublicKeyInput,
  removeMember,
  rosterFromDraft,
  suspendMember,
  type EditResult,
  type RosterDraft,
} from '../../../src/roster/index.js';
import { FEDERATION, ROOT_PUBLIC, seed } from './fixtures.js';

const T0 = '2025-01-01T00:00:00.000Z';
const T1 = '2025-02-01T00:00:00.000Z';
const T2 = '2025-03-01T00:00:00.000Z';

const key = (n: number) => toBase64(ed25519PublicKey(seed(n)));
const assoc = { id: 'assoc', name: 'Association', publicKey: toBase64(ROOT_PUBLIC), endpoint: 'https://assoc.example' };
const member = (id: string, n: number) => ({ id, name: id.toUpperCase(), publicKey: key(n), endpoint: `https://${id}.example` });

function draftOf(result: EditResult): RosterDraft {
  if (!result.ok) throw new Error(result.error);
  return result.draft;
}

function twoMembers(): RosterDraft {
  const d = draftOf(createDraft(FEDERATION, assoc, T0));
  return draftOf(addMember(draftOf(addMember(d, member('zeta', 5), T0)), member('alpha', 4), T0));
}

describe('building a working copy', () => {
  it('starts with the association and keeps members sorted by id', () => {
    const d = twoMembers();
    expect(d.members.map((m) => [m.id, m.role, m.status])).toEqual([
      ['alpha', 'member', 'active'],
      ['assoc', 'association', 'active'],
      ['zeta', 'member', 'active'],
    ]);
  });

  it('becomes a signable roster with a version and an issue time', () => {
    const built = rosterFromDraft(twoMembers(), 1, T1);
    expect(built.ok).toBe(true);
    if (built.ok) expect(draftMatchesRoster(twoMembers(), built.roster)).toBe(true);
    expect(rosterFromDraft(twoMembers(), 0, T1).ok).toBe(false);
  });

  it('refuses a roster issued before a member joined', () => {
    expect(rosterFromDraft(twoMembers(), 1, '2024-12-31T23:59:59.999Z')).toMatchObject({ ok: false });
  });
});

describe('adding', () => {
  it('refuses a duplicate id or public key', () => {
    expect(addMember(twoMembers(), member('alpha', 9), T0)).toMatchObject({ ok: false, code: 'conflict', error: expect.stringMatching(/already in the roster/) });
    expect(addMember(twoMembers(), { ...member('gamma', 9), publicKey: key(4) }, T0)).toMatchObject({
      ok: false,
      code: 'conflict',
      error: expect.stringMatching(/already belongs to member alpha/),
    });
  });

  it('refuses invalid fields with the rule that failed', () => {
    expect(addMember(twoMembers(), { ...member('gamma', 9), endpoint: 'https://x.example/?a' }, T0)).toMatchObject({ ok: false, code: 'invalid_input' });
    expect(addMember(twoMembers(), member('roster', 9), T0)).toMatchObject({ ok: false, code: 'invalid_input', error: expect.stringMatching(/reserved/) });
  });
});

describe('suspending', () => {
  it('sets status and suspendedAt', () => {
    const d = draftOf(suspendMember(twoMembers(), 'zeta', T2));
    expect(d.members.find((m) => m.id === 'zeta')).toMatchObject({ status: 'suspended', suspendedAt: T2, since: T0 });
  });

  it('refuses an unknown member, the association, a second suspension and a time before joining', () => {
    expect(suspendMember(twoMembers(), 'gamma', T2)).toMatchObject({ ok: false, code: 'not_found' });
    expect(suspendMember(twoMembers(), 'assoc', T2)).toMatchObject({ ok: false, code: 'invalid_input' });
    expect(suspendMember(draftOf(suspendMember(twoMembers(), 'zeta', T2)), 'zeta', T2)).toMatchObject({ ok: false, code: 'conflict' });
    expect(suspendMember(twoMembers(), 'zeta', '2024-06-01T00:00:00.000Z')).toMatchObject({ ok: false, code: 'invalid_input' });
  });
});

describe('removing', () => {
  it('drops the member', () => {
    expect(draftOf(removeMember(twoMembers(), 'zeta')).members.map((m) => m.id)).toEqual(['alpha', 'assoc']);
  });

  it('refuses an unknown member and the association', () => {
    expect(removeMember(twoMembers(), 'gamma')).toMatchObject({ ok: false, code: 'not_found' });
    expect(removeMember(twoMembers(), 'assoc')).toMatchObject({ ok: false, code: 'invalid_input' });
  });
});

describe('operator input', () => {
  it('reads public keys as hex (either case) or base64', () => {
    const pk = ed25519PublicKey(seed(4));
    expect(parsePublicKeyInput(toHex(pk))).toBe(toBase64(pk));
    expect(parsePublicKeyInput(toHex(pk).toUpperCase())).toBe(toBase64(pk));
    expect(parsePublicKeyInput(toBase64(pk))).toBe(toBase64(pk));
    expect(parsePublicKeyInput(toHex(pk).slice(2))).toBeUndefined();
    expect(parsePublicKeyInput(toBase64(new Uint8Array(33)))).toBeUndefined();
    expect(parsePublicKeyInput('not a key')).toBeUndefined();
  });

  it('normalises endpoints to the roster spelling', () => {
    expect(normaliseEndpointInput('HTTP://Alpha.Example:80/')).toBe('http://alpha.example');
    expect(normaliseEndpointInput('https://alpha.example:8443/jb/')).toBe('https://alpha.example:8443/jb');
    expect(normaliseEndpointInput('http://[::1]:7300')).toBe('http://[::1]:7300');
    expect(normaliseEndpointInput('http://127.0.0.1:7300')).toBe('http://127.0.0.1:7300');
  });

  it('refuses credentials, queries, fragments and other schemes', () => {
    for (const bad of ['https://u:p@alpha.example', 'https://alpha.example?x=1', 'https://alpha.example/#top', 'ftp://alpha.example', 'alpha.example', 'http://alpha.example:0']) {
      expect(normaliseEndpointInput(bad), bad).toBeUndefined();
    }
  });
});
