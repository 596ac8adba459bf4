/**
 * The operator's walks in docs/OPERATIONS.md, step by step, as written: "Node signing keys" (a
 * member rotates its key) and "Restore" / "Restore from backup" (the member's machine is lost). The
 * member runs as recommended: its epoch secret comes from the environment (`secretEnv`), and every
 * command the walks run by hand (keys, backup, verify, restore, own-log) runs without that variable
 * set, as the commands that derive no token must (test/helpers/cli.ts strips every JOINTBAN_*
 * variable). The association's roster edits are `roster rotate-key`/`retire-key` + `roster sign`
 * (test/integration/roster-cli.test.ts runs those commands); here they are the same edit functions
 * through the test federation, which signs and serves the roster as `roster sign` does.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { fromHex, toBase64, toHex } from '../../src/crypto/encoding.js';
import { isCosigned, witnessOf } from '../../src/roster/witness.js';
import { logOrigin, openCheckpoint } from '../../src/log/checkpoint.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import { retireKey, rotateKey } from '../../src/roster/index.js';
import type { BackupManifest } from '../../src/store/backup.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { readKeyFile } from '../../src/store/key-file.js';
import { RESTORE_PENDING_FILE } from '../../src/store/restore.js';
import { runCli, runCliJson, type CliResult } from '../helpers/cli.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { json, listingBody, paymentAccount, type CheckBody, type CreatedListingBody, type Identifier } from '../helpers/fixtures.js';

const FEDERATION = 'demo.jointban.example';
const SECRET_VAR = 'JOINTBAN_EPOCH_SECRET_1';
let fed: TestFederation;
/** The nodes' environment: the epoch secret, as systemd's EnvironmentFile would give it. */
const env: Record<string, string> = {};
let alphaDir: string;
let preRotationKeys: string;
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:walk-${label}`)];

function oneLine(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(pattern)]);
}

/** Every checkpoint alpha holds, of every log, carries the witness's cosignature. */
async function allCosigned(): Promise<boolean> {
  const node = fed.get('alpha').node;
  const witness = witnessOf(node.federation.roster.current()!)!;
  const repo = new CheckpointRepository(node.database.db);
  for (const origin of ['alpha', 'beta', 'association']) {
    for (const cp of await repo.after(origin, -1, 10_000)) if (!isCosigned(cp.note, witness)) return false;
  }
  return true;
}

beforeAll(async () => {
  fed = await createFederation(2, { env });
  alphaDir = fed.get('alpha').dataDir;
  // The set-up OPERATIONS.md recommends: the secret leaves jointban.json for the environment.
  const configFile = join(alphaDir, CONFIG_FILE_NAME);
  const config = JSON.parse(readFileSync(configFile, 'utf8')) as { tokens: { epochs: { epoch: number; secret?: string; secretEnv?: string }[] } };
  env[SECRET_VAR] = config.tokens.epochs[0]!.secret!;
  await fed.stopNode('alpha');
  config.tokens.epochs = [{ epoch: 1, secretEnv: SECRET_VAR }];
  writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
  await fed.startNode('alpha');
  // keys/ as the operator backed it up before the rotation.
  preRotationKeys = join(fed.dir, 'keys-before-rotation');
  cpSync(join(alphaDir, 'keys'), preRotationKeys, { recursive: true });
  await fed.list('alpha', ids('1'));
  await fed.waitForDecision('beta', ids('1'), 'deny');
}, 60_000);

afterAll(async () => {
  await fed?.stop();
});

describe('docs/OPERATIONS.md, "Node signing keys", walked', () => {
  it("rotates a running member's key with the commands as written, the secret only in the node's environment", { timeout: 90_000 }, async () => {
    // 1. New key (the member).
    const rotated = await runCliJson<{ file: string; publicKey: string; previousPublicKey: string }>(['keys', 'rotate', '--data-dir', alphaDir]);
    expect(rotated.file).toBe(join(alphaDir, 'keys', 'node.key.next'));
    expect(statSync(rotated.file).mode & 0o777).toBe(0o600);
    oneLine(await runCli(['keys', 'rotate', '--data-dir', alphaDir]), /already exists: a rotation is under way/);
    // Finishing now would leave the node with a key its roster does not list: refused.
    oneLine(await runCli(['keys', 'finish', '--data-dir', alphaDir]), /is not valid now: the roster it holds \(version 1\) does not list it/);

    // 2. List it (the association): --at now, --retire-at one hour later.
    const at = new Date().toISOString();
    await fed.updateRoster((draft) => {
      const r = rotateKey(draft, 'alpha', toBase64(fromHex(rotated.publicKey)!), at, new Date(Date.now() + 3_600_000).toISOString());
      if (!r.ok) throw new Error(r.error);
      return r.draft;
    });

    // 3. The switch (automatic): the next checkpoint is signed with the new key.
    const listed = await fed.list('alpha', ids('2'));
    await fed.waitForDecision('beta', ids('2'), 'deny');
    const latest = await new CheckpointRepository(fed.get('beta').node.database.db).latest('alpha');
    expect(latest!.size).toBeGreaterThanOrEqual(listed.seq);
    expect(openCheckpoint(latest!.note, { name: logOrigin(FEDERATION, 'alpha'), publicKey: fromHex(rotated.publicKey)! }).ok).toBe(true);

    // 4. Finish (the member): the roster now makes the new key valid.
    const finished = await runCliJson<{ file: string; publicKey: string; retiredFile: string; retiredPublicKey: string }>(['keys', 'finish', '--data-dir', alphaDir]);
    expect(finished).toMatchObject({ publicKey: rotated.publicKey, retiredPublicKey: rotated.previousPublicKey });
    expect(existsSync(rotated.file)).toBe(false);
    expect(existsSync(finished.retiredFile)).toBe(true);

    // The old key is retired (roster retire-key, roster sign); the node keeps listing with the new one.
    await fed.updateRoster((draft) => {
      const r = retireKey(draft, 'alpha', toBase64(fromHex(rotated.previousPublicKey)!), new Date().toISOString());
      if (!r.ok) throw new Error(r.error);
      return r.draft;
    });
    await fed.list('alpha', ids('3'));
    await fed.waitForDecision('beta', ids('3'), 'deny');
    expect((await fed.status('beta')).misbehaviour).toEqual([]);
    expect((await fed.status('alpha')).signingRefused).toBeNull();

    // Commands that derive tokens still need the secret, which this shell does not have.
    oneLine(await runCli(['check', '--data-dir', alphaDir, '--payment-account', 'alipay:walk-3']), new RegExp(`${SECRET_VAR} is not set`));
    // The other commands an operator runs by hand need no secret either.
    for (const args of [
      ['apikey', 'list', '--data-dir', alphaDir],
      ['migrate', '--data-dir', alphaDir],
      ['report', '--data-dir', alphaDir, '--from', '2020-01-01', '--to', '2020-12-31'],
      ['own-log', '--data-dir', alphaDir],
    ]) {
      const run = await runCli(args);
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
    // Checked as the walk says, on the running node, without the secret.
    const verified = await runCli(['verify', '--data-dir', alphaDir]);
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
    expect(verified.stdout).toMatch(/^alpha\s+OK\s+3 entries/m);
  });
});

describe('docs/OPERATIONS.md, "Restore" and "Restore from backup", walked', () => {
  it('backs up, loses the machine, restores with the signed manifest and cosignatures checked, and recovers the own log', { timeout: 90_000 }, async () => {
    // Backups: taken while the node runs, once every checkpoint it holds is cosigned.
    await waitFor(allCosigned, { message: 'every checkpoint alpha holds to carry the witness cosignature' });
    const backupFile = join(fed.dir, 'alpha-backup.db');
    const backup = await runCli(['backup', '--data-dir', alphaDir, '--to', backupFile]);
    expect(backup.code, backup.stderr).toBe(0);
    const manifest = JSON.parse(readFileSync(`${backupFile}.json`, 'utf8')) as BackupManifest;
    expect(manifest).toMatchObject({ version: 2, member: 'alpha', logs: expect.arrayContaining([{ origin: 'alpha', size: 3, checkpoint: 3 }]) });
    // Signed with the key the rotation made the key file.
    expect(manifest.signature?.publicKey).toBe(toHex(readKeyFile(join(alphaDir, 'keys', 'node.key')).publicKey));

    // After the backup: one more listing, which only the peers will hold.
    await fed.list('alpha', ids('4'));
    await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 4 && (await fed.logSize(fed.association, 'alpha')) === 4, { message: 'the peers to mirror entry 4' });
    const adminKey = fed.get('alpha').adminKey;
    await fed.stopNode('alpha');

    // 2. jointban.json and keys/ come back from their own backup, into a fresh data directory.
    const dir = join(fed.dir, 'alpha-new');
    mkdirSync(dir, { mode: 0o700 });
    cpSync(join(alphaDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
    // A keys/ backup from before the rotation holds only the key the roster retired: refused.
    cpSync(preRotationKeys, join(dir, 'keys'), { recursive: true });
    const stale = await runCli(['restore', '--from', backupFile, '--data-dir', dir, '--require-cosignatures']);
    expect(stale.code).toBe(1);
    expect(stale.stdout).toMatch(/holds a key the roster retired at/);
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(true);
    cpSync(join(alphaDir, 'keys'), join(dir, 'keys'), { recursive: true, force: true });

    // 3. Restore (again: an unfinished restore is replaced without --force).
    const restored = await runCli(['restore', '--from', backupFile, '--data-dir', dir, '--require-cosignatures']);
    expect(restored.code, restored.stdout + restored.stderr).toBe(0);
    expect(restored.stdout).toMatch(/^manifest signed by [0-9a-f]{16}…, a key roster version 3 lists for alpha/m);
    expect(restored.stdout).toMatch(/^alpha\s+OK\s+3 entries, (\d+) checkpoints \(\1 cosigned\)/m);
    expect(restored.stdout).toContain('the node may start');
    expect(existsSync(join(dir, RESTORE_PENDING_FILE))).toBe(false);

    // Before it starts, own-log says whom the node will wait for.
    const waiting = await runCliJson<Record<string, unknown>>(['own-log', '--data-dir', dir]);
    expect(waiting).toMatchObject({ member: 'alpha', size: 3, recovering: true, reason: 'restore', waitingFor: ['association', 'beta'], answered: [], reachesAtLeast: 3 });

    // 5. Start: the node fetches entry 4 back from its peers before it appends.
    const node = await createNode(loadConfig(dir, env), { logger: createLogger('silent') });
    try {
      const url = await node.listen();
      await waitFor(async () => (await node.federation.status()).ownLogRecovery === null, { message: 'the restored node to recover its own log' });
      const done = await runCliJson<Record<string, unknown>>(['own-log', '--data-dir', dir]);
      expect(done).toMatchObject({ recovering: false, size: 4 });
      const listed = await fetch(`${url}/v1/listings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(listingBody({ identifiers: ids('5') })),
      });
      expect(listed.status).toBe(201);
      expect((await json<CreatedListingBody>(listed)).seq).toBe(5);
      const check = await fetch(`${url}/v1/check`, {
        method: 'POST',
        headers: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ identifiers: ids('4') }),
      });
      expect((await json<CheckBody>(check)).decision).toBe('deny');
      await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 5, { message: "beta to take the restored alpha's entry 5" });
      expect((await fed.status('beta')).misbehaviour).toEqual([]);
    } finally {
      await node.stop();
    }
  });
});
