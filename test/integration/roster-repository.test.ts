/**
 * The roster repository: the one place the latest stored roster is loaded and verified again (the
 * roster holder at start, and the receipt, report, verify, keys, backup, restore and own-log
 * commands through the context). A real SQLite file per test.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { signRoster } from '../../src/roster/index.js';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { RosterRepository } from '../../src/store/roster-repository.js';
import { tempDir } from '../helpers/test-node.js';
import { ROOT_SECRET, TRUST_ROOT, sampleRoster, seed } from '../unit/roster/fixtures.js';

let dir: string;
let handle: DatabaseHandle;
let rosters: RosterRepository;

beforeEach(async () => {
  dir = tempDir('jointban-rosters-');
  handle = await openDatabase({ driver: 'sqlite', file: join(dir, 'node.sqlite') });
  rosters = new RosterRepository(handle.db);
});

afterEach(async () => {
  await handle.close();
  rmSync(dir, { recursive: true, force: true });
});

const AT = '2025-04-01T00:00:00.000Z';

describe('an empty store', () => {
  it('holds no roster, and never asks for the trust root', async () => {
    let asked = false;
    const trustRoot = () => {
      asked = true;
      return TRUST_ROOT;
    };
    expect(await rosters.latestVerified(trustRoot)).toEqual({ status: 'none' });
    expect(asked).toBe(false);
    expect(await rosters.latestNote()).toBeUndefined();
  });
});

describe('the latest roster', () => {
  it('is the highest version held, verified, with the note as stored', async () => {
    const v5 = signRoster(sampleRoster({ version: 5 }), ROOT_SECRET);
    await rosters.add(5, v5, AT);
    await rosters.add(3, signRoster(sampleRoster({ version: 3 }), ROOT_SECRET), AT);
    const latest = await rosters.latestVerified(() => TRUST_ROOT);
    expect(latest.status).toBe('verified');
    if (latest.status !== 'verified') return;
    expect(latest.version).toBe(5);
    expect(latest.roster.version).toBe(5);
    expect(latest.note).toBe(v5);
  });

  it('keeps the first note of a version: a second one of the same version is not recorded', async () => {
    const first = signRoster(sampleRoster({ version: 4 }), ROOT_SECRET);
    await rosters.add(4, first, AT);
    await rosters.add(4, signRoster(sampleRoster({ version: 4, issuedAt: '2025-05-01T00:00:00.000Z' }), ROOT_SECRET), AT);
    expect((await rosters.latestNote())?.note).toBe(first);
  });
});

describe('a stored roster that does not verify', () => {
  it('signed by another key: unverified, with the reason and its version', async () => {
    await rosters.add(3, signRoster(sampleRoster(), seed(9)), AT);
    const latest = await rosters.latestVerified(() => TRUST_ROOT);
    expect(latest).toMatchObject({ status: 'unverified', version: 3 });
    expect(latest.status === 'unverified' && latest.error).toMatch(/roster signature/);
  });

  it('without a trust root to verify against: unverified, with no reason', async () => {
    await rosters.add(3, signRoster(sampleRoster(), ROOT_SECRET), AT);
    expect(await rosters.latestVerified(() => undefined)).toEqual({ status: 'unverified', version: 3, error: undefined });
  });

  it('a newer roster that does not verify is not passed over for an older one that does', async () => {
    await rosters.add(3, signRoster(sampleRoster({ version: 3 }), ROOT_SECRET), AT);
    await rosters.add(4, signRoster(sampleRoster({ version: 4 }), seed(9)), AT);
    expect(await rosters.latestVerified(() => TRUST_ROOT)).toMatchObject({ status: 'unverified', version: 4 });
  });
});
