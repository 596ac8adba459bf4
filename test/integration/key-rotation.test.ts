/**
 * A member rotates its signing key while the federation runs (docs/PROTOCOL.md, "Key history";
 * docs/OPERATIONS.md, "Key rotation"): `jointban keys rotate` writes the next key beside the key
 * file, the association lists it with `rotateKey`, and the running node switches to it with the
 * roster. Listings before and after the rotation reach every node, a node that starts fresh after
 * the rotation accepts the checkpoint the old key signed, the audit and receipts issued before the
 * rotation still verify. `keys finish` refuses until the roster makes the new key valid, and on the
 * association's node. Once the old key is retired, a node left with only that key signs nothing
 * (it says so on its status) instead of a checkpoint every peer would refuse, and signs again,
 * after what it held, as soon as it has its new key back.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { verifyStore } from '../../src/audit/verify.js';
import { fromHex, toBase64 } from '../../src/crypto/encoding.js';
import { witnessOf } from '../../src/roster/witness.js';
import { verifyReceipt } from '../../src/log/receipt.js';
import { findMember, memberKeys, retireKey, rotateKey, type Roster } from '../../src/roster/index.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { DashboardClient } from '../helpers/dashboard-client.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';

let fed: TestFederation | undefined;
const id = (n: number) => [{ type: 'phone' as const, value: `+86 137 1111 ${String(n).padStart(4, '0')}` }];

afterEach(async () => {
  await fed?.stop();
  fed = undefined;
});

async function receiptFor(f: TestFederation, member: string, n: number): Promise<unknown> {
  const node = f.get(member);
  let receipt: unknown;
  await waitFor(
    async () => {
      const res = await fetch(`${node.url}/v1/check`, {
        method: 'POST',
        headers: { authorization: `Bearer ${node.checkKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ identifiers: id(n), receipts: true }),
      });
      const body = (await res.json()) as { receipts?: unknown[] };
      receipt = body.receipts?.[0];
      return receipt !== undefined;
    },
    { timeoutMs: 15_000, message: `a receipt from ${member}` },
  );
  return receipt;
}

function rosterOf(f: TestFederation, member: string): Roster {
  const roster = f.get(member).node.federation.roster.current();
  if (!roster) throw new Error(`${member} holds no roster`);
  return roster;
}

async function audit(f: TestFederation, member: string) {
  const roster = rosterOf(f, member);
  const witness = witnessOf(roster);
  const results = await verifyStore(f.get(member).node.database, { federation: roster.federation, roster, ...(witness ? { witness } : {}) });
  return results.map((r) => ({ origin: r.origin, ok: r.ok, checkpoints: r.checkpoints }));
}

describe('a member rotating its signing key while running', () => {
  it('keeps old checkpoints verifiable, signs new ones with the new key, and refuses the old key after it is retired', async () => {
    fed = await createFederation(3);
    const f = fed;
    const alpha = f.get('alpha');
    // gamma is offline through the first listing: it will sync alpha's log from nothing after the rotation.
    await f.stopNode('gamma');
    await f.list('alpha', id(1));
    await f.waitForDecision('beta', id(1), 'deny');
    const oldReceipt = await receiptFor(f, 'beta', 1);
    const oldKey = toBase64(alpha.node.identity.publicKey);

    // The operator's side: a new key beside the key file, written atomically; a second rotate refuses.
    const rotated = await runCliJson<{ publicKey: string; file: string }>(['keys', 'rotate', '--data-dir', alpha.dataDir]);
    expect(existsSync(rotated.file)).toBe(true);
    const again = await runCli(['keys', 'rotate', '--data-dir', alpha.dataDir]);
    expect(again.code).not.toBe(0);
    expect(again.stderr.trim().split('\n')).toHaveLength(1);
    const newKey = toBase64(fromHex(rotated.publicKey)!);
    // Finishing before the roster lists the new key would leave the node with a key nobody accepts.
    const early = await runCli(['keys', 'finish', '--data-dir', alpha.dataDir]);
    expect(early.code).toBe(1);
    expect(early.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^jointban: the key in .*node\.key\.next is not valid now: the roster it holds \(version 1\) does not list it/)]);
    expect(existsSync(rotated.file)).toBe(true);
    // The association's key is the trust root: neither command runs on its node.
    for (const verb of ['rotate', 'finish']) {
      const refused = await runCli(['keys', verb, '--data-dir', f.association.dataDir]);
      expect(refused.code).toBe(1);
      expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/this is the association's node: .*trust-root procedure \(docs\/OPERATIONS\.md, "The association's key"\)/)]);
    }

    // The association's side: the new key valid from now, the old one for one more hour.
    const at = new Date().toISOString();
    const retireAt = new Date(Date.now() + 3_600_000).toISOString();
    await f.updateRoster((draft) => {
      const r = rotateKey(draft, 'alpha', newKey, at, retireAt);
      if (!r.ok) throw new Error(r.error);
      return r.draft;
    });
    expect(findMember(rosterOf(f, 'beta'), 'alpha')?.previousKeys).toEqual([expect.objectContaining({ publicKey: oldKey, validUntil: retireAt })]);

    // Requests: during the overlap beta accepts either key as alpha's.
    const oldSecret = alpha.node.identity.secretKey;
    const newSecret = fromHex(readFileSync(rotated.file, 'utf8').trim())!;
    const asAlpha = (secretKey: Uint8Array) => f.signedFetch('beta', '/v1/federation/checkpoints', { keyId: 'alpha', secretKey });
    expect((await asAlpha(oldSecret)).status).toBe(200);
    expect((await asAlpha(newSecret)).status).toBe(200);

    // A node starting fresh now takes alpha's log from its checkpoint signed by the old key.
    await f.startNode('gamma');
    await f.waitForDecision('gamma', id(1), 'deny');

    // After the rotation alpha signs with the new key, and every node accepts it.
    await f.list('alpha', id(2));
    await f.waitForDecision('beta', id(2), 'deny');
    await f.waitForDecision('gamma', id(2), 'deny');
    const newReceipt = await receiptFor(f, 'gamma', 2);
    const keysNow = (m: string) => memberKeys(findMember(rosterOf(f, 'gamma'), m));
    const onlyNew = (m: string) => (m === 'alpha' ? [{ publicKey: fromHex(rotated.publicKey)! }] : undefined);
    const onlyOld = (m: string) => (m === 'alpha' ? [{ publicKey: alpha.node.identity.publicKey }] : undefined);
    expect(verifyReceipt(newReceipt, onlyNew).ok).toBe(true);
    expect(verifyReceipt(newReceipt, onlyOld).ok).toBe(false);
    // The receipt issued before the rotation still verifies under the roster with the key history.
    expect(verifyReceipt(oldReceipt, keysNow)).toMatchObject({ ok: true });
    expect(verifyReceipt(oldReceipt, onlyOld)).toMatchObject({ ok: true });

    // jointban verify's walk: alpha's checkpoints by both keys verify on every node.
    for (const member of ['beta', 'gamma']) {
      const results = await audit(f, member);
      expect(results.find((r) => r.origin === 'alpha')).toMatchObject({ ok: true });
      expect(results.every((r) => r.ok)).toBe(true);
    }

    // Now the old key is retired (e.g. it leaked), and alpha's node loses its new key: left with the
    // retired key only, it signs no checkpoint over a later entry, and says so.
    await f.updateRoster((draft) => {
      const r = retireKey(draft, 'alpha', oldKey, new Date().toISOString());
      if (!r.ok) throw new Error(r.error);
      return r.draft;
    });
    const retired = await asAlpha(oldSecret);
    expect(retired.status).toBe(401);
    expect(((await retired.json()) as { error: { code: string } }).error.code).toBe('bad_signature');
    expect((await asAlpha(newSecret)).status).toBe(200);
    await f.stopNode('alpha');
    renameSync(rotated.file, `${rotated.file}.lost`);
    await f.startNode('alpha');
    await f.list('alpha', id(3));
    const refused = await waitFor(async () => (await f.status('alpha')).signingRefused, { message: 'alpha to refuse to sign with its retired key' });
    expect(refused).toMatchObject({ size: 3, message: expect.stringMatching(/lists none of this node's keys as valid/) });
    const metrics = await fetch(`${alpha.url}/metrics`, { headers: { authorization: `Bearer ${alpha.adminKey}` } });
    expect(await metrics.text()).toMatch(/^jointban_checkpoint_signing_refused 1$/m);
    // The dashboard's health page says so.
    const dashboard = new DashboardClient((input, init) => alpha.node.app.request(input, init));
    expect((await dashboard.login(alpha.adminKey)).status).toBe(303);
    expect(await (await dashboard.get('/dashboard')).text()).toMatch(/class="notice signing-refused"[^>]*>[^<]*This node signs no checkpoint of its own log/);
    const signedSizes = async () => (await alpha.node.database.db.selectFrom('checkpoints').select('size').where('origin', '=', 'alpha').execute()).map((r) => Number(r.size));
    expect(Math.max(...(await signedSizes()))).toBe(2);
    // The next round of beta finds nothing new: no checkpoint, no bad_signature.
    await f.get('beta').node.federation.sync.syncOnce('alpha');
    expect((await f.status('beta')).misbehaviour.filter((m) => m.origin === 'alpha')).toEqual([]);
    expect((await f.check('beta', id(3))).decision).toBe('allow');
    expect(await f.logSize('beta', 'alpha')).toBe(2);

    // The key comes back (from the operator's backup of keys/): alpha signs entry 3 with it.
    await f.stopNode('alpha');
    renameSync(`${rotated.file}.lost`, rotated.file);
    await f.startNode('alpha');
    await f.waitForDecision('beta', id(3), 'deny');
    expect((await f.status('alpha')).signingRefused).toBeNull();
    const after = await fetch(`${alpha.url}/metrics`, { headers: { authorization: `Bearer ${alpha.adminKey}` } });
    expect(await after.text()).toMatch(/^jointban_checkpoint_signing_refused 0$/m);
    // The roster makes the new key valid now: keys finish makes it the key file.
    const finished = await runCliJson<{ publicKey: string; retiredFile: string }>(['keys', 'finish', '--data-dir', alpha.dataDir]);
    expect(finished.publicKey).toBe(rotated.publicKey);
    expect(existsSync(rotated.file)).toBe(false);
    // What beta holds, and alpha's own log, verify in full.
    expect((await audit(f, 'beta')).every((r) => r.ok)).toBe(true);
    expect((await audit(f, 'alpha')).every((r) => r.ok)).toBe(true);

    // The same through the commands an auditor runs on beta's data directory.
    await f.stopNode('beta');
    const verified = await runCliJson<{ ok: boolean; origins: { origin: string; ok: boolean; checkpoints: number }[] }>(['verify', '--data-dir', f.get('beta').dataDir, '--json']);
    expect(verified.ok).toBe(true);
    expect(verified.origins.find((o) => o.origin === 'alpha')?.checkpoints).toBeGreaterThanOrEqual(2);
    const receiptFile = join(f.dir, 'old-receipt.json');
    writeFileSync(receiptFile, JSON.stringify(oldReceipt));
    const checked = await runCliJson<{ receipts: { valid: boolean }[] }>(['receipt', 'verify', receiptFile, '--data-dir', f.get('beta').dataDir]);
    expect(checked.receipts).toEqual([expect.objectContaining({ valid: true, listingId: 'alpha:1' })]);
  }, 120_000);
});
