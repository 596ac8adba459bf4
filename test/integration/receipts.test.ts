/**
 * Receipts end to end: a check on another node returns receipts for a deny, and the `jointban
 * receipt verify` command accepts them offline against the roster and refuses a tampered one.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalFederation, type LocalFederation } from '../../src/demo/local-federation.js';
import { createLogger } from '../../src/logging.js';
import { trustRootVerifierKey } from '../../src/roster/index.js';
import { tempDir } from '../helpers/test-node.js';

const CLI = join(process.cwd(), 'dist/src/cli/main.js');
let fed: LocalFederation;
let dir: string;

async function post(url: string, path: string, key: string, body: unknown): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function waitFor<T>(fn: () => Promise<T | undefined>, what: string, timeoutMs = 15_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function verify(file: string, ...args: string[]) {
  return spawnSync(process.execPath, [CLI, 'receipt', 'verify', file, ...args], { encoding: 'utf8' });
}

beforeAll(async () => {
  dir = tempDir();
  fed = await startLocalFederation({
    dir,
    nodes: 2,
    extra: { checkpoints: { intervalMs: 50 }, sync: { pollIntervalMs: 300 }, logging: { level: 'silent' } },
    logger: () => createLogger('silent'),
  });
});

afterAll(async () => {
  await fed?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('receipts', () => {
  let response: Record<string, unknown>;

  beforeAll(async () => {
    const [alpha, beta] = fed.nodes;
    const listed = await post(alpha!.url, '/v1/listings', alpha!.adminKey, {
      identifiers: [{ type: 'national_id', value: '11010519491231002X' }],
      category: 'fraud',
      severity: 'severe',
      banUntil: null,
    });
    expect(listed.status).toBe(201);
    response = await waitFor(async () => {
      const r = await post(beta!.url, '/v1/check', beta!.adminKey, { identifiers: [{ type: 'national_id', value: '11010519491231002X' }], receipts: true });
      return (r.json.receipts as unknown[] | undefined)?.length ? r.json : undefined;
    }, 'a deny with a receipt on beta');
  });

  it('are attached to a deny, one per matched listing', () => {
    expect(response.decision).toBe('deny');
    expect(response.receipts).toEqual([expect.objectContaining({ format: 'jointban-receipt/v1', listingId: 'alpha:1', origin: 'alpha', leafIndex: 0 })]);
  });

  it('are not attached to an allow', async () => {
    const beta = fed.nodes[1]!;
    const r = await post(beta.url, '/v1/check', beta.adminKey, { identifiers: [{ type: 'email', value: 'nobody@example.com' }], receipts: true });
    expect(r.json.decision).toBe('allow');
    expect(r.json.receipts).toBeUndefined();
  });

  it('verify offline with the roster and the trust root', () => {
    const file = join(dir, 'check-response.json');
    writeFileSync(file, JSON.stringify(response));
    const trustRoot = trustRootVerifierKey('demo.jointban.example', fed.association.node.identity.publicKey);
    const result = verify(file, '--roster', fed.rosterFile, '--trust-root', trustRoot);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ receipts: [{ valid: true, listingId: 'alpha:1', origin: 'alpha' }] });
  });

  it('verify with the roster a node holds', () => {
    const file = join(dir, 'receipt.json');
    writeFileSync(file, JSON.stringify((response.receipts as unknown[])[0]));
    const result = verify(file, '--data-dir', fed.nodes[1]!.dataDir);
    expect(result.status).toBe(0);
  });

  it('a tampered receipt fails with a one-line error and a non-zero exit', () => {
    const receipt = { ...(response.receipts as Record<string, unknown>[])[0]! };
    receipt.leafIndex = 1;
    receipt.treeSize = 2;
    const file = join(dir, 'tampered.json');
    writeFileSync(file, JSON.stringify(receipt));
    const result = verify(file, '--data-dir', fed.nodes[1]!.dataDir);
    expect(result.status).not.toBe(0);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^jointban: receipt 0 is not valid/);
  });

  it('a roster that does not verify against the given trust root is refused', () => {
    const file = join(dir, 'check-response.json');
    const wrongRoot = trustRootVerifierKey('demo.jointban.example', fed.nodes[0]!.node.identity.publicKey);
    const result = verify(file, '--roster', fed.rosterFile, '--trust-root', wrongRoot);
    expect(result.status).not.toBe(0);
    expect(result.stderr).toMatch(/^jointban: roster does not verify/);
    expect(readFileSync(file, 'utf8')).toContain('jointban-receipt/v1');
  });
});
