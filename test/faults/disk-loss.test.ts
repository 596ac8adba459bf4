/**
 * Losing a member node's disk, step by step as docs/OPERATIONS.md ("Losing a node's disk") walks
 * it, in a real federation whose nodes run `durability.mode: "witnessed"`:
 *
 * 1. alpha takes listings; a backup is made; alpha takes more, which only the association (the
 *    witness) holds, beta being down;
 * 2. the disk is lost; a peer (gamma) shows a checkpoint alpha signed at that size but cannot serve
 *    the entries, and the association is down: the restored alpha refuses writes, and refuses to
 *    abandon the recovery, because appending would reuse ids gamma has seen;
 * 3. the association comes back: every acknowledged listing is back, the next listing takes the
 *    next free id, and no peer records a fork;
 * 4. the recovered listings, which carry no `reference`, are reconnected by `import` (not listed a
 *    second time) and included by `import --relist`.
 */
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONFIG_FILE_NAME, loadConfig } from '../../src/config/load.js';
import { addMember } from '../../src/roster/index.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import { LogReader } from '../../src/store/log-repository.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { DashboardClient } from '../helpers/dashboard-client.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import { HostilePeer } from '../helpers/hostile-peer.js';
import { json, listingBody, paymentAccount, type CheckBody, type CreatedListingBody, type ErrorBody, type Identifier } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/test-node.js';

let fed: TestFederation;
let alpha: FedNode;
let gamma: HostilePeer;
let work: string;
let dir: string;
let restored: JointbanNode | undefined;
const listed = new Map<string, CreatedListingBody>();
const bannedAt = new Map<string, string>();
const ids = (label: string): Identifier[] => [paymentAccount(`alipay:disk-loss-${label}`)];

async function list(label: string, reference: string): Promise<void> {
  const at = new Date(Date.now() - 86_400_000).toISOString();
  bannedAt.set(label, at);
  listed.set(label, await fed.list('alpha', ids(label), { reference, bannedAt: at }));
}

function restoredUrl(): string {
  if (!restored?.url) throw new Error('the restored node is not listening');
  return restored.url;
}

const call = (path: string, body?: unknown) =>
  fetch(`${restoredUrl()}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${alpha.adminKey}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
const check = async (label: string) => (await json<CheckBody>(await call('/v1/check', { identifiers: ids(label) }))).decision;

function csv(file: string, labels: string[], withBannedAt: string[] = []): string {
  const path = join(work, file);
  const rows = labels.map((l) => `ref-${l},fraud,,${withBannedAt.includes(l) ? bannedAt.get(l)! : ''},${ids(l)[0]!.value}`);
  writeFileSync(path, ['reference,category,ban_until,banned_at,payment_account', ...rows].join('\n') + '\n');
  return path;
}

beforeAll(async () => {
  gamma = await HostilePeer.start('gamma');
  fed = await createFederation(2, { extra: { durability: { mode: 'witnessed', witnessTimeoutMs: 3000 } } });
  alpha = fed.get('alpha');
  await fed.updateRoster((draft, now) => {
    const added = addMember(draft, gamma.member, now);
    if (!added.ok) throw new Error(added.error);
    return added.draft;
  });
  work = tempDir('jointban-disk-loss-');
}, 60_000);

afterAll(async () => {
  await restored?.stop();
  await fed?.stop();
  await gamma?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("losing a member node's disk", () => {
  it('1. alpha takes listings; a backup; more listings that only the witness holds', { timeout: 60_000 }, async () => {
    for (const label of ['a1', 'a2', 'a3']) await list(label, `ref-${label}`);
    await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 3, { message: 'beta to mirror alpha' });
    const backup = await runCli(['backup', '--data-dir', alpha.dataDir, '--to', join(work, 'alpha.db')]);
    expect(backup.code, backup.stderr).toBe(0);
    await fed.stopNode('beta');
    // Witnessed: each 201 means the association holds the listing.
    for (const label of ['a4', 'a5', 'a6']) await list(label, `ref-${label}`);
    expect(await fed.logSize(fed.association, 'alpha')).toBe(6);
    expect(listed.get('a6')?.id).toBe('alpha:6');
  });

  it('2. the disk is lost; ids a peer has seen are never reused while nobody serves their entries', { timeout: 60_000 }, async () => {
    await fed.stopNode(alpha);
    // gamma saw alpha's checkpoint at 6 (signed by alpha, cosigned) but lost the entries.
    const cp = await new CheckpointRepository(fed.association.node.database.db).latest('alpha');
    expect(cp?.size).toBe(6);
    gamma.checkpoints = [{ origin: 'alpha', size: 6, note: cp!.note }];
    await fed.stopNode(fed.association);
    await fed.startNode('beta');

    // The procedure: config and keys from their own backup, the data backup restored.
    dir = join(work, 'restored');
    mkdirSync(dir, { mode: 0o700 });
    cpSync(join(alpha.dataDir, CONFIG_FILE_NAME), join(dir, CONFIG_FILE_NAME));
    cpSync(join(alpha.dataDir, 'keys'), join(dir, 'keys'), { recursive: true });
    const restore = await runCli(['restore', '--from', join(work, 'alpha.db'), '--data-dir', dir]);
    expect(restore.code, restore.stdout + restore.stderr).toBe(0);
    restored = await createNode(loadConfig(dir, {}), { logger: createLogger('silent') });
    await restored.listen();

    const status = await waitFor(
      async () => {
        const s = (await restored!.federation.status()).ownLogRecovery;
        return s?.knownSize === 6 && s.answered.includes('beta') ? s : undefined;
      },
      { message: 'the recovery to see the checkpoint gamma shows' },
    );
    expect(status).toMatchObject({ size: 3, knownSize: 6 });
    expect([...status.waitingFor].sort()).toEqual(['association', 'gamma']);
    const refused = await call('/v1/listings', listingBody({ identifiers: ids('x1') }));
    expect(refused.status).toBe(503);
    expect((await json<ErrorBody>(refused)).error.message).toContain('a peer has seen it up to size 6');
    // The dashboard's health page says what a peer has seen.
    const dashboard = new DashboardClient((input, init) => restored!.app.request(input, init));
    expect((await dashboard.login(alpha.adminKey)).status).toBe(303);
    expect(await (await dashboard.get('/dashboard')).text()).toMatch(/class="notice own-log-recovery"[^>]*>[^<]*Restored from a backup[^<]*<[\s\S]*a peer has seen 6/);
    // Abandoning would give alpha:4…6 a second meaning: refused, with what to do instead.
    const abandon = await runCli(['own-log', '--data-dir', dir, '--abandon-recovery']);
    expect(abandon.code).toBe(1);
    expect(abandon.stderr).toContain("gamma has seen alpha's log up to size 6 (a checkpoint signed by this node)");
    expect(abandon.stderr).toContain('alpha:4…6');
    expect(await new LogReader(restored.database.db).size('alpha')).toBe(3);
  });

  it('3. the witness returns: every acknowledged listing is back and the next id is new', { timeout: 60_000 }, async () => {
    await fed.startNode(fed.association);
    await waitFor(async () => (await restored!.federation.status()).ownLogRecovery === null, { message: 'the own log to be recovered' });
    expect(await new LogReader(restored!.database.db).size('alpha')).toBe(6);
    for (const label of ['a1', 'a2', 'a3', 'a4', 'a5', 'a6']) expect(await check(label), label).toBe('deny');
    const next = await call('/v1/listings', listingBody({ identifiers: ids('a7'), reference: 'ref-a7' }));
    expect(next.status).toBe(201);
    const created = await json<CreatedListingBody>(next);
    expect(created.id).toBe('alpha:7');
    expect([...listed.values()].map((l) => l.id)).not.toContain(created.id);
    await waitFor(async () => (await fed.logSize('beta', 'alpha')) === 7, { message: 'beta to take alpha:7 as the continuation' });
    // No fork: nothing recorded against alpha's log but gamma's failure to serve it.
    for (const node of ['beta', fed.association.member]) {
      expect((await fed.status(node)).misbehaviour.filter((m) => m.origin === 'alpha' && m.peer !== 'gamma')).toEqual([]);
    }
    // Recovered listings carry no reference: the log never holds the platform's account id.
    expect((await restored!.listings.get('alpha:4')).reference).toBeNull();
    expect((await restored!.listings.get('alpha:1')).reference).toBe('ref-a1');
  });

  it('4a. import reconnects a row to the recovered listing of the same tokens and ban instead of listing it again', { timeout: 60_000 }, async () => {
    await restored!.stop();
    restored = undefined;
    const file = csv('bans.csv', ['a1', 'a2', 'a3', 'a4', 'a5'], ['a4']);
    const first = await runCliJson<Record<string, number>>(['import', '--data-dir', dir, file]);
    expect(first).toMatchObject({ rows: 5, listed: 0, skipped: 5, reconnected: 2, rejected: 0 });
    const second = await runCliJson<Record<string, number>>(['import', '--data-dir', dir, file]);
    expect(second).toMatchObject({ rows: 5, listed: 0, skipped: 5, reconnected: 0, rejected: 0 });
    // A row for the same account with another ban is not the recovered listing.
    const other = join(work, 'other.csv');
    const banUntil = new Date(Date.now() + 180 * 86_400_000).toISOString();
    writeFileSync(other, `reference,category,ban_until,payment_account\nref-other,fraud,${banUntil},${ids('a6')[0]!.value}\n`);
    expect(await runCliJson<Record<string, number>>(['import', '--data-dir', dir, other])).toMatchObject({ listed: 1, reconnected: 0 });
    restored = await createNode(loadConfig(dir, {}), { logger: createLogger('silent') });
    expect(await new LogReader(restored.database.db).size('alpha')).toBe(8);
    expect((await restored.listings.get('alpha:4')).reference).toBe('ref-a4');
    expect((await restored.listings.get('alpha:5')).reference).toBe('ref-a5');
    expect((await restored.listings.get('alpha:6')).reference).toBeNull();
    await restored.stop();
    restored = undefined;
  });

  it('4b. import --relist includes a recovered listing the platform never reconnected', { timeout: 60_000 }, async () => {
    const config = JSON.parse(readFileSync(join(dir, CONFIG_FILE_NAME), 'utf8')) as { tokens: { epochs: { epoch: number; secret?: string }[] } };
    config.tokens.epochs.push({ epoch: 2, secret: randomBytes(32).toString('hex') });
    writeFileSync(join(dir, CONFIG_FILE_NAME), `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
    const file = csv('relist.csv', ['a1', 'a2', 'a3', 'a4', 'a5', 'a6']);
    const result = await runCliJson<Record<string, number>>(['import', '--relist', '--data-dir', dir, file]);
    expect(result).toMatchObject({ rows: 6, relisted: 6, skipped: 0, rejected: 0 });
    restored = await createNode(loadConfig(dir, {}), { logger: createLogger('silent') });
    expect((await restored.listings.get('alpha:6')).status).toBe('retracted');
    const six = await restored.database.db.selectFrom('listings').select(['id', 'status']).where('reference', '=', 'ref-a6').orderBy('seq').execute();
    expect(six.map((r) => r.status)).toEqual(['retracted', 'active']);
    const relisted = await restored.listings.get(six[1]!.id);
    expect(relisted.tokens.map((t) => t.epoch)).toContain(2);
  });
});
