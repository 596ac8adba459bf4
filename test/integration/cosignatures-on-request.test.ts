/**
 * Every checkpoint a member holds comes to carry the witness's cosignature (docs/PROTOCOL.md,
 * "Cosignatures on request"): the member asks the association for the cosignatures of the
 * checkpoints it signed itself and of those it pulled from a peer before the witness saw them, so
 * `jointban verify --require-cosignatures` passes on its data, its own log included, and a restore
 * with the flag passes too. The witness vouches only for the tree it holds: a different tree of a
 * size it holds is refused and recorded as equivocation, a note of another log than the one named
 * or beyond what it holds is not cosigned, and a node that is not the witness has no such route.
 */
import { cpSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME } from '../../src/config/load.js';
import { concatBytes, fromBase64, toBase64, utf8 } from '../../src/crypto/encoding.js';
import { ed25519SlowVerifications, randomBytes } from '../../src/crypto/index.js';
import { signRequest } from '../../src/federation/request-signature.js';
import { isCosigned, witnessOf } from '../../src/roster/witness.js';
import { logOrigin, signCheckpoint } from '../../src/log/checkpoint.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { runCli } from '../helpers/cli.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { testEngine } from '../helpers/engine.js';

const FEDERATION = 'demo.jointban.example';
let fed: TestFederation;
const phone = (n: number) => [{ type: 'phone' as const, value: `+86 139 0001 ${String(n).padStart(4, '0')}` }];

/** The sizes of `origin`'s checkpoints that `member` holds without the witness's cosignature. */
async function uncosigned(member: string, origin = member): Promise<number[]> {
  const node = fed.get(member).node;
  const witness = witnessOf(node.federation.roster.current()!)!;
  const rows = await new CheckpointRepository(node.database.db).after(origin, -1, 10_000);
  return rows.filter((cp) => !isCosigned(cp.note, witness)).map((cp) => cp.size);
}

beforeAll(async () => {
  fed = await createFederation(2);
  // Listings one after another and in a burst: more checkpoints than the witness pulls on its own.
  for (let i = 1; i <= 4; i++) await fed.list('alpha', phone(i));
  await Promise.all([5, 6, 7, 8].map((i) => fed.list('alpha', phone(i))));
  await fed.waitForDecision('beta', phone(8), 'deny');
}, 60_000);

afterAll(async () => {
  await fed?.stop();
});

describe("a member's own checkpoints", () => {
  it('all come to carry the witness cosignature, and verify --require-cosignatures passes on its own log, as does a restore with it', async () => {
    const alpha = fed.get('alpha');
    const count = (await new CheckpointRepository(alpha.node.database.db).after('alpha', -1, 10_000)).length;
    expect(count).toBeGreaterThan(1);
    await waitFor(async () => (await uncosigned('alpha')).length === 0, { message: "every checkpoint of alpha's own log to be cosigned" });
    expect((await fed.status('alpha')).origins.find((o) => o.origin === 'alpha')).toMatchObject({ cosigned: true });

    // jointban backup and restore are SQLite's; a PostgreSQL node is backed up with the server's
    // own tools (docs/OPERATIONS.md, "PostgreSQL") and only verified here.
    const sqlite = testEngine() === 'sqlite';
    const backupFile = join(fed.dir, 'alpha-cosigned.db');
    if (sqlite) expect((await runCli(['backup', '--data-dir', alpha.dataDir, '--to', backupFile])).code).toBe(0);
    await fed.stopNode('alpha');
    const verified = await runCli(['verify', '--data-dir', alpha.dataDir, '--require-cosignatures', '--json']);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    const report = JSON.parse(verified.stdout) as { ok: boolean; origins: { origin: string; checkpoints: number; cosignedCheckpoints: number }[] };
    const own = report.origins.find((o) => o.origin === 'alpha')!;
    expect(own.checkpoints).toBe(count);
    expect(own.cosignedCheckpoints).toBe(count);

    if (sqlite) {
      const dir = join(fed.dir, 'alpha-restored');
      mkdirSync(dir, { mode: 0o700 });
      cpSync(join(alpha.dataDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
      cpSync(join(alpha.dataDir, 'keys'), join(dir, 'keys'), { recursive: true });
      const restored = await runCli(['restore', '--from', backupFile, '--data-dir', dir, '--require-cosignatures']);
      expect(restored.code, restored.stdout + restored.stderr).toBe(0);
      expect(restored.stdout).toMatch(/^alpha\s+OK\s+8 entries, (\d+) checkpoints \(\1 cosigned\)/m);
    }
    await fed.startNode('alpha');
  });
});

describe("a peer's checkpoints pulled before the witness saw them", () => {
  it('come to carry the witness cosignature too', { timeout: 60_000 }, async () => {
    // With the association down, beta pulls each of alpha's checkpoints from alpha itself; the
    // association, back, pulls only the latest and would cosign that one alone.
    await fed.stopNode(fed.association);
    const before = await fed.logSize('beta', 'alpha');
    for (let i = 20; i < 23; i++) {
      await fed.list('alpha', phone(i));
      await fed.waitForDecision('beta', phone(i), 'deny');
    }
    const pulled = (await uncosigned('beta', 'alpha')).filter((size) => size > before);
    expect(pulled.length).toBeGreaterThan(1);
    await fed.startNode(fed.association);
    await waitFor(async () => (await uncosigned('beta', 'alpha')).length === 0, { message: "every checkpoint of alpha's log that beta holds to be cosigned" });
    await waitFor(async () => (await uncosigned('alpha')).length === 0, { message: "every checkpoint of alpha's own log to be cosigned" });
  });
});

describe('the witness asked to cosign a checkpoint', () => {
  const ask = (notes: string[], origin = 'alpha', target = fed.association) =>
    fed.signedFetch(target, '/v1/federation/cosignatures', { ...fed.asMember('alpha'), method: 'POST', body: { origin, checkpoints: notes } });

  it('refuses another tree of a size it holds and records the equivocation; does not cosign what it does not hold or another log', async () => {
    const secretKey = fed.asMember('alpha').secretKey;
    const forged = signCheckpoint({ origin: logOrigin(FEDERATION, 'alpha'), size: 2, root: new Uint8Array(32).fill(9) }, { name: logOrigin(FEDERATION, 'alpha'), secretKey });
    const beyond = signCheckpoint({ origin: logOrigin(FEDERATION, 'alpha'), size: 1000, root: new Uint8Array(32).fill(1) }, { name: logOrigin(FEDERATION, 'alpha'), secretKey });
    const betaLog = (await new CheckpointRepository(fed.get('beta').node.database.db).latest('beta'))!.note;
    const res = await ask([forged, beyond, betaLog]);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { checkpoints: { status: string; size: number | null; note?: string; reason?: string }[] };
    expect(body.checkpoints.map((a) => a.status)).toEqual(['refused', 'not_held', 'refused']);
    expect(body.checkpoints[0]!.reason).toMatch(/equivocation/);
    expect(body.checkpoints[2]!.reason).toMatch(/not a checkpoint of alpha's log/);
    expect(body.checkpoints.some((a) => a.note !== undefined)).toBe(false);
    const recorded = (await fed.status(fed.association)).misbehaviour.filter((m) => m.kind === 'equivocation' && m.origin === 'alpha');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.peer).toBe('alpha');
    // beta's own note, named as beta's: cosigned for alpha, which may hold it as a mirrored log.
    const mirrored = (await (await ask([betaLog], 'beta')).json()) as { checkpoints: { status: string; note?: string }[] };
    expect(mirrored.checkpoints).toEqual([{ size: expect.any(Number), status: 'cosigned', note: expect.stringMatching(/^[\s\S]*— demo\.jointban\.example\/witness /) }]);
  });

  it("refuses junk signatures under the member's key id without one slow verification, and stops at the first", async () => {
    const good = (await new CheckpointRepository(fed.get('alpha').node.database.db).latest('alpha'))!.note;
    // The same text and key id, a junk signature whose S is canonical (< L), so that only the
    // signature equation can refuse it: where OpenSSL refuses, noble-strict would be asked.
    const junk = () => {
      const lines = good.split('\n');
      const at = lines.findIndex((l) => l.startsWith('— '));
      const [, name, sig] = /^— (\S+) (\S+)$/.exec(lines[at]!)!;
      const s = randomBytes(32);
      s[31] = 0;
      lines[at] = `— ${name} ${toBase64(concatBytes(fromBase64(sig!)!.subarray(0, 4), randomBytes(32), s))}`;
      return lines.slice(0, at + 1).join('\n') + '\n';
    };
    const before = ed25519SlowVerifications();
    const res = await ask([...Array.from({ length: 31 }, junk), good]);
    expect(res.status).toBe(200);
    const answers = ((await res.json()) as { checkpoints: { status: string; reason?: string }[] }).checkpoints;
    expect(answers.map((a) => a.status)).toEqual(Array.from({ length: 32 }, () => 'refused'));
    expect(answers[0]!.reason).toMatch(/does not verify/);
    expect(answers.slice(1).every((a) => /^not checked/.test(a.reason ?? ''))).toBe(true);
    expect(ed25519SlowVerifications() - before).toBe(0);
    // The good note alone is cosigned: only the junk before it kept it from being checked.
    expect(((await (await ask([good])).json()) as { checkpoints: { status: string }[] }).checkpoints[0]!.status).toBe('cosigned');
  });

  it('answers malformed requests with 400, and a node that is not the witness has no such route', async () => {
    expect((await ask([])).status).toBe(400);
    expect((await ask(Array.from({ length: 33 }, () => 'x'))).status).toBe(400);
    expect((await ask(['x'], 'Not A Member')).status).toBe(400);
    const notWitness = await fed.signedFetch('beta', '/v1/federation/cosignatures', { ...fed.asMember('alpha'), method: 'POST', body: { origin: 'alpha', checkpoints: ['x'] } });
    expect(notWitness.status).toBe(404);
  });

  it.each(['/v1/federation/cosignatures', '/v1/federation/notify'])('%s: a body that is not UTF-8 → 400 invalid_encoding, never read as U+FFFD', async (path) => {
    // A signed body whose only fault is a lone 0xFF byte inside a string.
    const body = concatBytes(utf8('{"origin":"alpha","size":1,"checkpoints":["'), new Uint8Array([0xff]), utf8('"]}'));
    const { keyId, secretKey } = fed.asMember('alpha');
    const url = `${fed.get(fed.association).url}${path}`;
    const headers = signRequest({ method: 'POST', path, authority: new URL(url).host, body, keyId, secretKey, created: Math.floor(Date.now() / 1000) });
    const res = await fetch(url, { method: 'POST', headers: { ...headers, 'content-type': 'application/json' }, body });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_encoding');
  });
});
