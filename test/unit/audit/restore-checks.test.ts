/**
 * What `jointban restore` decides besides verifying the logs (src/audit/restore-checks.ts): the
 * keys a manifest may be signed with, and the disagreements between manifest, logs and key files.
 */
import { describe, expect, it } from 'vitest';
import { restoreProblems, manifestKeys } from '../../../src/audit/restore-checks.js';
import type { OriginVerification } from '../../../src/audit/verify-report.js';
import { toBase64 } from '../../../src/crypto/encoding.js';
import type { Roster } from '../../../src/roster/index.js';

const key = (n: number) => new Uint8Array(32).fill(n);
const OLD = key(1);
const NEW = key(2);
const ROTATED = '2026-06-01T00:00:00.000Z';
const RETIRED = '2026-06-08T00:00:00.000Z';

const roster: Roster = {
  federation: 'jointban.example',
  version: 3,
  issuedAt: ROTATED,
  members: [
    {
      id: 'alpha',
      name: 'Alpha',
      role: 'member',
      publicKey: toBase64(NEW),
      keyValidFrom: ROTATED,
      previousKeys: [{ publicKey: toBase64(OLD), validFrom: '2025-01-01T00:00:00.000Z', validUntil: RETIRED }],
      endpoint: 'https://alpha.example',
      status: 'active',
      since: '2025-01-01T00:00:00.000Z',
    },
  ],
};

const verified = (origin: string, entries: number, ok = true) => ({ origin, ok, entries }) as OriginVerification;

describe('the keys a manifest may be signed with', () => {
  it('are the keys the roster lists for the member at the time the backup was made', () => {
    const before = manifestKeys({ roster, member: 'alpha', createdAt: '2026-03-01T00:00:00.000Z', keyFile: 'node.key', ownKeys: [key(9)] });
    expect(before.publicKeys).toEqual([OLD]);
    expect(before.whose).toBe('a key roster version 3 lists for alpha at 2026-03-01T00:00:00.000Z');
    const after = manifestKeys({ roster, member: 'alpha', createdAt: '2026-07-01T00:00:00.000Z', keyFile: 'node.key', ownKeys: [key(9)] });
    expect(after.publicKeys).toEqual([NEW]);
  });

  it("are the node's own key files where the backup holds no roster", () => {
    const none = manifestKeys({ roster: undefined, member: 'alpha', createdAt: ROTATED, keyFile: 'keys/node.key', ownKeys: [key(9), key(8)] });
    expect(none).toEqual({ publicKeys: [key(9), key(8)], whose: 'the key in keys/node.key (the backup holds no roster)' });
  });
});

describe('the problems of a restore', () => {
  const base = { roster, member: 'alpha', now: new Date('2026-07-01T00:00:00.000Z') };
  const keys = (own: Uint8Array, next?: Uint8Array) => ({ keyFile: 'keys/node.key', own, next });

  it('are none when the manifest, the logs and the key agree', () => {
    expect(restoreProblems({ ...base, manifestLogs: [{ origin: 'alpha', size: 3 }], results: [verified('alpha', 3)], keys: keys(NEW) })).toEqual([]);
  });

  it('name a log missing, a log of another size, and a log the manifest does not list', () => {
    const problems = restoreProblems({
      ...base,
      manifestLogs: [
        { origin: 'alpha', size: 3 },
        { origin: 'beta', size: 2 },
      ],
      results: [verified('alpha', 4), verified('gamma', 1)],
      keys: keys(NEW),
    });
    expect(problems).toEqual([
      "the manifest lists alpha's log with 3 entries; the database holds 4",
      "the manifest lists beta's log with 2 entries; the database holds none",
      'the database holds a log of gamma that the manifest does not list',
    ]);
  });

  it('name a key file the roster does not hold, and a retired key without its successor beside it', () => {
    const logs = { manifestLogs: [], results: [] };
    expect(restoreProblems({ ...base, ...logs, keys: keys(key(7)) })).toEqual(["keys/node.key is not the key the roster holds for alpha: restore the node's own keys/ too"]);
    expect(restoreProblems({ ...base, ...logs, keys: keys(OLD) })[0]).toMatch(/^keys\/node\.key holds a key the roster retired at 2026-06-08/);
    // Mid-rotation: the old key with the new one beside it as node.key.next is fine.
    expect(restoreProblems({ ...base, ...logs, keys: keys(OLD, NEW) })).toEqual([]);
  });
});
