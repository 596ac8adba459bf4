/**
 * The epoch rotation of docs/OPERATIONS.md ("Epoch secrets"), walked step by step on a federation
 * of real nodes (the association and three platforms) while a checker asks every running node,
 * continuously, about every listed person, and fails on any `allow` from a node that stores an
 * active listing of that person:
 *   1. each node in turn, the association first, restarts with epoch 2 added; meanwhile a node
 *      that already holds epoch 2 lists through its API and `jointban import`, and one still on
 *      epoch 1 lists too, and the nodes still on epoch 1 deny what the others listed;
 *   2. the association's status and metrics show who lacks epoch 2 until everyone holds it;
 *   3. every platform relists with `jointban import --relist` beside its running node;
 *   4. each node in turn, the association first, restarts without epoch 1; meanwhile a node
 *      already on epoch 2 alone lists, and the nodes still holding both deny it.
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { fromHex } from '../../src/crypto/encoding.js';
import { createHmacTokenDeriver } from '../../src/identifiers/tokens.js';
import { Tokenizer } from '../../src/service/tokenizer.js';
import { editEpochs, type EpochConfig } from '../helpers/epochs.js';
import { runCli, runCliJson } from '../helpers/cli.js';
import { DashboardClient } from '../helpers/dashboard-client.js';
import { createFederation, waitFor, type FedNode, type TestFederation } from '../helpers/federation.js';
import type { CheckBody, Identifier } from '../helpers/fixtures.js';

let fed: TestFederation | undefined;
let checker: Checker | undefined;

afterEach(async () => {
  await checker?.stop();
  checker = undefined;
  await fed?.stop();
  fed = undefined;
});

interface Person {
  label: string;
  ids: Identifier[];
  /** The person's tokens under both epochs, to see whether a node stores an active listing of them. */
  tokens: Buffer[];
}

/** Whether the node stores an active, unexpired listing carrying one of the person's tokens (of any epoch). */
async function stores(node: FedNode, person: Person): Promise<boolean> {
  const row = await node.node.database.db
    .selectFrom('listing_tokens as t')
    .innerJoin('listings as l', 'l.id', 't.listing_id')
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .where('t.token', 'in', person.tokens)
    .where('l.status', '=', 'active')
    .where('l.expires_at', '>', new Date().toISOString())
    .executeTakeFirst();
  return Number(row?.n ?? 0) > 0;
}

/** Asks every running node about every listed person, round after round, until stopped. */
class Checker {
  readonly persons: Person[] = [];
  readonly violations: string[] = [];
  /** Checks of a stored listing answered deny or review, per phase. */
  readonly denied = new Map<string, number>();
  phase = 'before';
  private running = true;
  private readonly done: Promise<void>;

  constructor(private readonly f: TestFederation) {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    while (this.running) {
      for (const node of this.f.running()) {
        for (const person of [...this.persons]) {
          const phase = this.phase;
          let body: CheckBody;
          try {
            // Stored before the check is asked: a listing arriving meanwhile cannot make a false alarm.
            if (!(await stores(node, person))) continue;
            body = await this.f.check(node, person.ids);
          } catch {
            continue; // the node is restarting
          }
          if (body.decision === 'allow') this.violations.push(`${phase}: ${node.member} allowed ${person.label}`);
          else this.denied.set(phase, (this.denied.get(phase) ?? 0) + 1);
        }
      }
      await new Promise<void>((resolve) => setTimeout(resolve, 5));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

describe('an epoch rotation, one node at a time, under a continuous checker', () => {
  it('never answers allow for a listed person at any node, and shows who lacks an epoch', async () => {
    fed = await createFederation(3);
    const f = fed;
    const [alpha, beta, gamma] = f.nodes as [FedNode, FedNode, FedNode];
    const order = [f.association, alpha, beta, gamma];
    const secret1 = (f.association.node.config.epochs[0]!.secret as Uint8Array).slice();
    const secret2 = randomBytes(32).toString('hex');
    const both = new Tokenizer(
      createHmacTokenDeriver([
        { epoch: 1, secret: secret1 },
        { epoch: 2, secret: fromHex(secret2)! },
      ]),
      'CN',
    );
    let n = 0;
    /** A person's records at its platform: reference → phone, for that platform's relist export. */
    const records = new Map<string, Map<string, string>>(f.nodes.map((node) => [node.member, new Map()]));
    const person = (origin: FedNode, label: string): Person => {
      const phone = `+86 137 5555 ${String(++n).padStart(4, '0')}`;
      records.get(origin.member)!.set(label, phone);
      const ids = [{ type: 'phone' as const, value: phone }];
      return { label, ids, tokens: both.tokensFor(ids).map((t) => Buffer.from(t.token)) };
    };
    const c = new Checker(f);
    checker = c;
    const track = (p: Person) => c.persons.push(p);
    const list = async (origin: FedNode, label: string) => {
      const p = person(origin, label);
      const created = await f.list(origin, p.ids, { reference: label });
      track(p);
      return { person: p, epochs: [...new Set(created.tokens.map((t) => t.epoch))] };
    };
    const heldBy = async (viewer: FedNode, member: string) => {
      const status = await f.status(viewer);
      return member === viewer.member ? status.epochs.held : status.epochs.members.find((m) => m.member === member)?.held;
    };
    const waitHeld = (member: string, epochs: number[]) =>
      waitFor(async () => JSON.stringify(await heldBy(f.association, member)) === JSON.stringify(epochs), { message: `the association to see ${member} holding ${epochs.join(', ')}` });
    const restart = async (node: FedNode, edit: (epochs: EpochConfig[]) => EpochConfig[]) => {
      await f.stopNode(node);
      editEpochs(node.dataDir, edit);
      await f.startNode(node);
    };

    // Before: a ban on each platform, under epoch 1, denied everywhere.
    const before = await Promise.all(f.nodes.map((node) => list(node, `pre-${node.member}`)));
    for (const { person: p } of before) for (const node of f.all) await f.waitForDecision(node, p.ids, 'deny');

    // Step 1: add epoch 2, the association first, then one platform at a time.
    c.phase = 'add';
    for (const node of order) {
      await restart(node, (epochs) => [...epochs, { epoch: 2, secret: secret2 }]);
      await waitHeld(node.member, [1, 2]);
      if (node !== alpha) continue;
      // Alpha holds 1 and 2, beta and gamma 1 only: the association sees who lacks epoch 2.
      const lacking = async () => (await f.status(f.association)).epochs.members.filter((m) => m.missing.includes(2)).map((m) => m.member);
      await waitFor(async () => (await lacking()).join() === 'beta,gamma', { message: 'the association to see beta and gamma lacking epoch 2' });
      // Alpha lists through its API and through `jointban import` beside its running node.
      const viaApi = await list(alpha, 'overlap-api');
      expect(viaApi.epochs).toEqual([1, 2]);
      const imported = person(alpha, 'overlap-import');
      const csv = join(f.dir, 'alpha-new.csv');
      writeFileSync(csv, `reference,category,ban_until,phone\noverlap-import,fraud,,${imported.ids[0]!.value}\n`);
      expect(await runCliJson<Record<string, number>>(['import', '--data-dir', alpha.dataDir, csv])).toMatchObject({ listed: 1, rejected: 0 });
      track(imported);
      // Gamma, still on epoch 1 alone, lists too.
      const onOld = await list(gamma, 'overlap-gamma');
      expect(onOld.epochs).toEqual([1]);
      // The nodes still on epoch 1 alone deny alpha's new listings (and everyone gamma's).
      for (const p of [viaApi.person, imported]) for (const node of [beta, gamma]) await f.waitForDecision(node, p.ids, 'deny');
      for (const node of f.all) await f.waitForDecision(node, onOld.person.ids, 'deny');
      expect(await heldBy(f.association, 'beta')).toEqual([1]);
    }

    // Step 2: every node holds both; the association's status, metrics and dashboard say so.
    c.phase = 'overlap';
    const status = await f.status(f.association);
    expect(status.epochs.held).toEqual([1, 2]);
    expect(status.epochs.members).toEqual(f.nodes.map((node) => ({ member: node.member, held: [1, 2], missing: [], extra: [] })));
    const metrics = await (await fetch(`${f.association.url}/metrics`, { headers: { authorization: `Bearer ${f.association.adminKey}` } })).text();
    expect(metrics.match(/^jointban_token_epoch_held\{.*$/gm)).toEqual(['jointban_token_epoch_held{epoch="1"} 1', 'jointban_token_epoch_held{epoch="2"} 1']);
    for (const node of f.nodes) expect(metrics).toMatch(new RegExp(`^jointban_peer_token_epochs_missing\\{peer="${node.member}"\\} 0$`, 'm'));
    expect(metrics).not.toContain(secret2);
    const dashboard = new DashboardClient((input, init) => f.association.node.app.request(input, init));
    expect((await dashboard.login(f.association.adminKey)).status).toBe(303);
    const health = await (await dashboard.get('/dashboard')).text();
    expect(health).toMatch(/<table class="epochs">[\s\S]*<td class="mono">gamma<\/td><td class="mono">1, 2<\/td>/);
    expect(health).not.toContain(secret2);

    // Step 3: each platform relists from its own records, beside its running node.
    c.phase = 'relist';
    const expected: Record<string, Record<string, number>> = {
      alpha: { rows: 3, relisted: 1, current: 2, rejected: 0 },
      beta: { rows: 1, relisted: 1, current: 0, rejected: 0 },
      gamma: { rows: 2, relisted: 2, current: 0, rejected: 0 },
    };
    for (const node of f.nodes) {
      const csv = join(f.dir, `${node.member}-active-bans.csv`);
      writeFileSync(csv, ['reference,category,ban_until,phone', ...[...records.get(node.member)!].map(([ref, phone]) => `${ref},fraud,,${phone}`)].join('\n') + '\n');
      const result = await runCli(['import', '--relist', '--data-dir', node.dataDir, csv]);
      expect(result.code, result.stderr).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject(expected[node.member]!);
    }
    // Caught up: every node stores, for every person, an active listing under epoch 2.
    const epoch2 = (p: Person) => both.tokensFor(p.ids, [2]).map((t) => Buffer.from(t.token));
    for (const node of f.all) {
      for (const p of c.persons) {
        await waitFor(() => stores(node, { ...p, tokens: epoch2(p) }), { message: `${node.member} to hold ${p.label} under epoch 2` });
      }
    }

    // Step 4: retire epoch 1, the association first, then one platform at a time.
    c.phase = 'retire';
    for (const node of order) {
      await restart(node, (epochs) => epochs.filter((e) => e.epoch !== 1));
      await waitHeld(node.member, [2]);
      if (node !== alpha) continue;
      // Alpha holds 2 alone, beta and gamma still both: alpha's new listing matches there through 2.
      const late = await list(alpha, 'late-alpha');
      expect(late.epochs).toEqual([2]);
      for (const other of [beta, gamma]) await f.waitForDecision(other, late.person.ids, 'deny');
      const holding = async () => (await f.status(f.association)).epochs.members.filter((m) => m.extra.includes(1)).map((m) => m.member);
      await waitFor(async () => (await holding()).join() === 'beta,gamma', { message: 'the association to see beta and gamma still holding epoch 1' });
    }

    // After: every node on epoch 2 alone, every person denied everywhere, and never an allow.
    c.phase = 'after';
    expect((await f.status(f.association)).epochs.members).toEqual(f.nodes.map((node) => ({ member: node.member, held: [2], missing: [], extra: [] })));
    for (const node of f.all) for (const p of c.persons) expect((await f.check(node, p.ids)).decision, `${node.member} ${p.label}`).toBe('deny');
    await waitFor(() => (c.denied.get('after') ?? 0) > 0, { message: 'the checker to run after the rotation' });
    await c.stop();
    expect(c.violations).toEqual([]);
    for (const phase of ['before', 'add', 'overlap', 'relist', 'retire', 'after']) expect(c.denied.get(phase) ?? 0, phase).toBeGreaterThan(0);
  }, 300_000);
});
