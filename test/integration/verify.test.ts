/**
 * `jointban verify` on real nodes: a federation lists, retracts and mirrors; the association then
 * suspends beta. Alpha is stopped and its data directory kept as a pristine snapshot, which
 * verifies. Each failure mode then tampers a fresh copy of it directly in its database (as an
 * attacker or a faulty disk would) and must be reported with the right kind, origin and position,
 * and only that, where the damage is local. The command itself runs as a child process for a pass
 * and a failure. On both engines: under JOINTBAN_TEST_ENGINE=postgres the nodes, the snapshot and
 * every copy are PostgreSQL databases (test/helpers/store-copy.ts), tampered with through SQL.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OriginVerification } from '../../src/audit/verify.js';
import { verifyDataDir } from '../../src/cli/verify.js';
import { loadConfig } from '../../src/config/load.js';
import { fromBase64, toBase64 } from '../../src/crypto/encoding.js';
import { encodeEntry, type ListingEntry } from '../../src/log/entry.js';
import { suspendMember } from '../../src/roster/index.js';
import { openDatabase } from '../../src/store/database.js';
import { ListingWriter } from '../../src/store/listing-repository.js';
import { LogWriter } from '../../src/store/log-repository.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { testEngine } from '../helpers/engine.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { paymentAccount, type Identifier } from '../helpers/fixtures.js';
import { copyDataDir, storeDigest, whileWriterLockHeld, withStoreSql, type DataDirCopy, type StoreSql } from '../helpers/store-copy.js';
import { createTestNode } from '../helpers/test-node.js';

let fed: TestFederation;
let snapshot: string;
const copies: DataDirCopy[] = [];

const ids = (label: string): Identifier[] => [paymentAccount(`alipay:verify-${label}`)];

async function heldCheckpoint(node: FedNode, origin: string): Promise<number> {
  const row = await node.node.database.db
    .selectFrom('checkpoints')
    .select((eb) => eb.fn.max('size').as('size'))
    .where('origin', '=', origin)
    .executeTakeFirst();
  return Number(row?.size ?? 0);
}

beforeAll(async () => {
  fed = await createFederation(2);
  const [alpha, beta] = fed.nodes as [FedNode, FedNode];
  const first = await fed.list(alpha, ids('a1'));
  await fed.list(alpha, ids('a2'));
  await fed.list(alpha, ids('a3'));
  await fed.retract(alpha, first.id);
  await fed.list(beta, ids('b1'));
  await fed.list(beta, ids('b2'));
  await waitFor(async () => (await fed.logSize(alpha, 'beta')) === 2 && (await heldCheckpoint(alpha, 'beta')) === 2 && (await heldCheckpoint(alpha, 'alpha')) === 4, {
    message: "alpha to hold beta's log and checkpoints of both logs",
  });
  // Suspended after every entry it made: those stay valid, later ones must not.
  await fed.updateRoster((draft, now) => {
    const edited = suspendMember(draft, 'beta', now);
    if (!edited.ok) throw new Error(edited.error);
    return edited.draft;
  });
  await waitFor(
    async () =>
      Number(
        (
          await alpha.node.database.db
            .selectFrom('rosters')
            .select((eb) => eb.fn.max('version').as('v'))
            .executeTakeFirst()
        )?.v,
      ) === 2,
    {
      message: 'alpha to store roster version 2',
    },
  );
  await fed.stopNode(alpha);
  const pristine = await copyDataDir(alpha.dataDir, 'jointban-verify-snapshot-');
  copies.push(pristine);
  snapshot = pristine.dir;
}, 60_000);

afterAll(async () => {
  await fed?.stop();
  for (const copy of copies) await copy.remove();
});

function byOrigin(results: OriginVerification[], origin: string): OriginVerification {
  const found = results.find((r) => r.origin === origin);
  if (!found) throw new Error(`no result for ${origin}: ${JSON.stringify(results.map((r) => r.origin))}`);
  return found;
}

/** A copy of the pristine snapshot, changed by `tamper` through a connection of its own. */
async function tampered(tamper: (db: StoreSql, dir: string) => Promise<void>): Promise<string> {
  const copy = await copyDataDir(snapshot, 'jointban-verify-copy-');
  copies.push(copy);
  await withStoreSql(copy.dir, (db) => tamper(db, copy.dir));
  return copy.dir;
}

async function verifyCopy(tamper: (db: StoreSql, dir: string) => Promise<void>): Promise<OriginVerification[]> {
  return (await verifyDataDir(await tampered(tamper))).results;
}

const failuresOf = (r: OriginVerification) => r.failures.map((f) => ({ kind: f.kind, index: f.index, size: f.size }));

describe('an intact store', () => {
  it('verifies every log with exact entry counts, on the engine of this run', async () => {
    expect(loadConfig(snapshot, {}).database.driver).toBe(testEngine());
    const { results, keys } = await verifyDataDir(snapshot);
    expect(keys.rosterVersion).toBe(2);
    expect(results.every((r) => r.ok)).toBe(true);
    expect(byOrigin(results, 'alpha')).toMatchObject({ entries: 4, failures: [], failureCount: 0 });
    expect(byOrigin(results, 'beta')).toMatchObject({ entries: 2, failures: [] });
    expect(byOrigin(results, 'alpha').checkpoints).toBeGreaterThanOrEqual(1);
    expect(byOrigin(results, 'beta').checkpoints).toBeGreaterThanOrEqual(1);
  });
});

describe('tampered entry bytes', () => {
  it('a changed token digit (still canonical) is a leaf hash mismatch at its index, and the signed root no longer matches', async () => {
    const results = await verifyCopy(async (db) => {
      const row = (await db.get<{ bytes: Buffer }>("SELECT bytes FROM log_entries WHERE origin = 'beta' AND seq = 2"))!;
      const text = row.bytes.toString('utf8');
      const at = text.indexOf('"token":"') + '"token":"'.length;
      const changed = text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1);
      await db.run("UPDATE log_entries SET bytes = ? WHERE origin = 'beta' AND seq = 2", Buffer.from(changed, 'utf8'));
    });
    const beta = byOrigin(results, 'beta');
    expect(beta.ok).toBe(false);
    expect(beta.failures[0]).toMatchObject({ kind: 'leaf_hash_mismatch', index: 1, message: expect.stringContaining('beta') });
    expect(beta.failures.map((f) => f.kind)).toEqual(expect.arrayContaining(['tree_node_mismatch', 'root_mismatch', 'projection_mismatch']));
    expect(byOrigin(results, 'alpha').ok).toBe(true);
  });

  it('a byte that breaks the canonical form is a bad entry at its index', async () => {
    const results = await verifyCopy(async (db) => {
      const row = (await db.get<{ bytes: Buffer }>("SELECT bytes FROM log_entries WHERE origin = 'alpha' AND seq = 1"))!;
      const bytes = Buffer.from(row.bytes);
      bytes[bytes.length - 1] = 0x20; // the closing brace becomes a space
      await db.run("UPDATE log_entries SET bytes = ? WHERE origin = 'alpha' AND seq = 1", bytes);
    });
    const alpha = byOrigin(results, 'alpha');
    expect(alpha.failures[0]).toMatchObject({ kind: 'bad_entry', index: 0, message: expect.stringContaining('entry 0 of alpha') });
    expect(byOrigin(results, 'beta').ok).toBe(true);
  });
});

describe('tampered Merkle data', () => {
  it('a changed leaf hash is reported alone: the tree is rebuilt from the bytes', async () => {
    const results = await verifyCopy(async (db) => {
      await db.run("UPDATE log_entries SET leaf_hash = ? WHERE origin = 'alpha' AND seq = 2", Buffer.alloc(32, 1));
    });
    expect(failuresOf(byOrigin(results, 'alpha'))).toEqual([{ kind: 'leaf_hash_mismatch', index: 1, size: undefined }]);
  });

  it('a changed tree node (a proof source) is reported at the leaf that completes it', async () => {
    const results = await verifyCopy(async (db) => {
      await db.run("UPDATE tree_nodes SET hash = ? WHERE origin = 'alpha' AND level = 1 AND idx = 0", Buffer.alloc(32, 2));
    });
    expect(failuresOf(byOrigin(results, 'alpha'))).toEqual([{ kind: 'tree_node_mismatch', index: 1, size: undefined }]);
  });

  it('a deleted tree node is reported missing', async () => {
    const results = await verifyCopy(async (db) => {
      await db.run("DELETE FROM tree_nodes WHERE origin = 'alpha' AND level = 0 AND idx = 2");
    });
    expect(failuresOf(byOrigin(results, 'alpha'))).toEqual([{ kind: 'tree_node_missing', index: 2, size: undefined }]);
  });
});

describe('a tampered checkpoint signature', () => {
  it("is a bad signature at that checkpoint's size", async () => {
    const federation = loadConfig(snapshot, {}).federation;
    const results = await verifyCopy(async (db) => {
      const row = (await db.get<{ size: number; note: string }>("SELECT size, note FROM checkpoints WHERE origin = 'beta' ORDER BY size DESC LIMIT 1"))!;
      const prefix = `\u2014 ${federation}/beta `;
      const lines = row.note.split('\n').map((line) => {
        if (!line.startsWith(prefix)) return line;
        const raw = fromBase64(line.slice(prefix.length))!;
        raw[10]! ^= 0x01; // inside the Ed25519 signature, after the key ID
        return prefix + toBase64(raw);
      });
      await db.run("UPDATE checkpoints SET note = ? WHERE origin = 'beta' AND size = ?", lines.join('\n'), row.size);
    });
    const beta = byOrigin(results, 'beta');
    expect(failuresOf(beta)).toEqual([{ kind: 'bad_signature', index: undefined, size: 2 }]);
    expect(beta.failures[0]!.message).toContain('does not verify');
  });
});

describe('a tampered listings projection', () => {
  it('a changed field of a listings row is a projection mismatch naming the field', async () => {
    const results = await verifyCopy(async (db) => {
      await db.run("UPDATE listings SET category = 'rumor' WHERE id = 'alpha:2'");
    });
    const alpha = byOrigin(results, 'alpha');
    expect(failuresOf(alpha)).toEqual([{ kind: 'projection_mismatch', index: 1, size: undefined }]);
    expect(alpha.failures[0]!.message).toContain('category');
  });
});

describe('an entry of a suspended member', () => {
  it('dated after the suspension is reported at its index, though stored with a correct tree', async () => {
    const results = await verifyCopy(async (_db, dir) => {
      const handle = await openDatabase({ ...loadConfig(dir, {}).database, migrate: false });
      try {
        const entry: ListingEntry = {
          v: 1,
          kind: 'listing',
          origin: 'beta',
          seq: 3,
          time: new Date().toISOString(),
          category: 'fraud',
          severity: 'severe',
          bannedAt: new Date(Date.now() - 60_000).toISOString(),
          banUntil: null,
          expiresAt: new Date(Date.now() + 86_400_000).toISOString(),
          tokens: fed.tokens(ids('after-suspension')),
        };
        await handle.db.transaction().execute(async (trx) => {
          await new LogWriter(trx).append('beta', [{ seq: 3, kind: 'listing', time: entry.time, bytes: encodeEntry(entry) }]);
          await new ListingWriter(trx).insertListing(entry, null);
        });
      } finally {
        await handle.close();
      }
    });
    const beta = byOrigin(results, 'beta');
    expect(beta.entries).toBe(3);
    expect(failuresOf(beta)).toEqual([{ kind: 'suspended_member', index: 2, size: undefined }]);
  });
});

describe('the command', () => {
  it('passes on the intact store, prints a summary per origin and leaves the database unchanged', async () => {
    const before = await storeDigest(snapshot);
    const result = await runCli(['verify', '--data-dir', snapshot]);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^alpha +OK +4 entries, \d+ checkpoints? \(\d+ cosigned\)$/m);
    expect(result.stdout).toMatch(/^beta +OK +2 entries, \d+ checkpoints? \(\d+ cosigned\)$/m);
    expect(await storeDigest(snapshot)).toBe(before);
  });

  it('reads while a writer holds the write lock: it takes none itself', async () => {
    const locked = await whileWriterLockHeld(snapshot, () => verifyDataDir(snapshot));
    expect(locked.results.length).toBeGreaterThanOrEqual(2);
    expect(locked.results.every((r) => r.ok)).toBe(true);
    expect(locked.results).toEqual((await verifyDataDir(snapshot)).results);
  });

  it('prints JSON with --json', async () => {
    const out = await runCliJson<{ ok: boolean; rosterVersion: number; origins: OriginVerification[] }>(['verify', '--data-dir', snapshot, '--json']);
    expect(out.ok).toBe(true);
    expect(out.rosterVersion).toBe(2);
    expect(byOrigin(out.origins, 'alpha').entries).toBe(4);
    expect(byOrigin(out.origins, 'beta').entries).toBe(2);
  });

  it('exits 1 on a failure, shows it, and names the failed origins last', async () => {
    const dir = await tampered(async (db) => {
      await db.run("UPDATE log_entries SET leaf_hash = ? WHERE origin = 'alpha' AND seq = 2", Buffer.alloc(32, 1));
    });
    const result = await runCli(['verify', '--data-dir', dir]);
    expect(result.code).toBe(1);
    expect(result.stdout).toMatch(/^alpha +FAILED +4 entries/m);
    expect(result.stdout).toContain('leaf_hash_mismatch at index 1');
    expect(result.stdout).toMatch(/^beta +OK/m);
    expect(result.stderr.trimEnd().split('\n').at(-1)).toBe('jointban: verification failed for alpha');
  });
});

describe('a node without a roster', () => {
  it('verifies its own log with its own key, and says so', async () => {
    const t = await createTestNode({ member: 'solo', extra: { checkpoints: { intervalMs: 20 }, logging: { level: 'silent' } } });
    try {
      const key = await t.key('write');
      for (const label of ['s1', 's2']) {
        const res = await t.request('POST', '/v1/listings', { key, body: { identifiers: ids(label), category: 'fraud', severity: 'severe', banUntil: null } });
        expect(res.status).toBe(201);
      }
      await t.close();
      const { keys, results } = await verifyDataDir(t.dataDir);
      expect(keys.rosterVersion).toBeNull();
      expect(results).toEqual([expect.objectContaining({ origin: 'solo', entries: 2, ok: true, failures: [] })]);
      // The empty tree's checkpoint at start, and at least one covering both listings.
      expect(results[0]!.checkpoints).toBeGreaterThanOrEqual(2);
      const printed = await runCli(['verify', '--data-dir', t.dataDir]);
      expect(printed.code).toBe(0);
      expect(printed.stdout).toContain('this node holds no roster, so only its own log (solo) is verified, with its own key');
    } finally {
      await t.stop();
    }
  });
});
