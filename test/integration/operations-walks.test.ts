/**
 * The operator's walk of docs/OPERATIONS.md, "Node signing keys", step by step, as written: a member
 * rotates its key, on either engine. The member runs as recommended, its epoch secret in the
 * environment (test/helpers/operations-walk.ts), and every command the walk runs by hand runs
 * without it. The association's roster edits are `roster rotate-key`/`retire-key` + `roster sign`
 * (test/integration/roster-cli.test.ts runs those commands); here they are the same edit functions
 * through the test federation, which signs and serves the roster as `roster sign` does. The
 * "Restore" walks are operations-restore-walk.test.ts (SQLite) and
 * operations-restore-walk-postgres.test.ts.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/crypto/encoding.js';
import { logOrigin, openCheckpoint } from '../../src/log/checkpoint.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import type { TestFederation } from '../helpers/federation.js';
import { listOnAlpha, oneLine, rosterRetireKey, rosterRotateKey, SECRET_VAR, startWalkFederation, walkIds as ids } from '../helpers/operations-walk.js';

const FEDERATION = 'demo.jointban.example';
let fed: TestFederation;
let alphaDir: string;

beforeAll(async () => {
  ({ fed, alphaDir } = await startWalkFederation());
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
    await rosterRotateKey(fed, rotated.publicKey, at);

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
    await rosterRetireKey(fed, rotated.previousPublicKey);
    await listOnAlpha(fed, '3');
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
