import { describe, expect, it } from 'vitest';
import { toBase64, toHex } from '../../../src/crypto/encoding.js';
import { ed25519PublicKey } from '../../../src/crypto/index.js';
import { logOrigin, signCheckpoint } from '../../../src/log/checkpoint.js';
import {
  addMember,
  createDraft,
  draftMatchesRoster,
  normaliseEndpointInput,
  parsePublicKeyInput,
  memberKeys,
  openMemberCheckpoint,
  checkpointKeyError,
  removeMember,
  retireKey,
  rotateKey,
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

describe('rotating a key', () => {
  const T3 = '2025-03-08T00:00:00.000Z';
  it('moves the current key to the history with its period and accepts the draft as a roster', () => {
    const d = draftOf(rotateKey(twoMembers(), 'alpha', key(6), T2, T3));
    const alpha = d.members.find((m) => m.id === 'alpha')!;
    expect(alpha.publicKey).toBe(key(6));
    expect(alpha.keyValidFrom).toBe(T2);
    expect(alpha.previousKeys).toEqual([{ publicKey: key(4), validFrom: T0, validUntil: T3 }]);
    expect(rosterFromDraft(d, 2, T2).ok).toBe(true);
  });

  it('refuses a key someone holds or held, a start not after the current one, a retirement before the start', () => {
    const d = draftOf(rotateKey(twoMembers(), 'alpha', key(6), T2, T3));
    expect(rotateKey(d, 'zeta', key(4), T3, T3)).toMatchObject({ ok: false, code: 'conflict' });
    expect(rotateKey(d, 'alpha', key(7), T1, T3)).toMatchObject({ ok: false, code: 'invalid_input' });
    expect(rotateKey(d, 'zeta', key(7), T2, T1)).toMatchObject({ ok: false, code: 'invalid_input' });
    expect(rotateKey(d, 'nobody', key(7), T2, T3)).toMatchObject({ ok: false, code: 'not_found' });
  });

  it('retires a previous key early, never the current one', () => {
    const d = draftOf(rotateKey(twoMembers(), 'alpha', key(6), T2, T3));
    const cut = draftOf(retireKey(d, 'alpha', key(4), T1));
    expect(cut.members.find((m) => m.id === 'alpha')!.previousKeys).toEqual([{ publicKey: key(4), validFrom: T0, validUntil: T1 }]);
    expect(retireKey(d, 'alpha', key(6), T3)).toMatchObject({ ok: false, code: 'invalid_input' });
    expect(retireKey(d, 'alpha', key(9), T3)).toMatchObject({ ok: false, code: 'not_found' });
    expect(retireKey(d, 'alpha', key(4), '2024-01-01T00:00:00.000Z')).toMatchObject({ ok: false, code: 'invalid_input' });
  });
});

describe('checkpoints under a key history', () => {
  const T3 = '2025-03-08T00:00:00.000Z';
  const checked = rosterFromDraft(draftOf(rotateKey(twoMembers(), 'alpha', key(6), T2, T3)), 2, T2);
  if (!checked.ok) throw new Error(checked.error);
  const roster = checked.roster;
  const origin = logOrigin(FEDERATION, 'alpha');
  const root = new Uint8Array(32).fill(7);
  const signed = (n: number) => signCheckpoint({ origin, size: 3, root }, { name: origin, secretKey: seed(n) });

  it('opens a checkpoint with whichever key signed it and says which', () => {
    const old = openMemberCheckpoint(roster, 'alpha', signed(4));
    const now = openMemberCheckpoint(roster, 'alpha', signed(6));
    expect(old.ok && toBase64(old.key.publicKey)).toBe(key(4));
    expect(now.ok && toBase64(now.key.publicKey)).toBe(key(6));
    expect(memberKeys(roster.members.find((m) => m.id === 'alpha')).length).toBe(2);
  });

  it('refuses a key of another member and an unknown member', () => {
    expect(openMemberCheckpoint(roster, 'alpha', signed(5)).ok).toBe(false);
    expect(openMemberCheckpoint(roster, 'nobody', signed(4)).ok).toBe(false);
  });

  it('rejects the old key for a tree whose last entry is dated at or after its validUntil', () => {
    const old = openMemberCheckpoint(roster, 'alpha', signed(4));
    if (!old.ok) throw new Error(old.error);
    expect(checkpointKeyError(old.key, T1)).toBeUndefined();
    expect(checkpointKeyError(old.key, T3)).toMatch(/valid from .* to 2025-03-08/);
  });
});
