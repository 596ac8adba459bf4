/**
 * What the operator's walks of docs/OPERATIONS.md share (test/integration/operations-*.test.ts): a
 * federation whose member alpha runs as OPERATIONS.md recommends, its epoch secret in the node's
 * environment (`secretEnv`) rather than in jointban.json, so every command a walk runs by hand runs
 * without it, as the commands that derive no token must (test/helpers/cli.ts strips every
 * JOINTBAN_* variable).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { CONFIG_FILE_NAME } from '../../src/config/load.js';
import { fromHex, toBase64 } from '../../src/crypto/encoding.js';
import { retireKey, rotateKey } from '../../src/roster/index.js';
import { isCosigned, witnessOf } from '../../src/roster/witness.js';
import { CheckpointRepository } from '../../src/store/checkpoint-repository.js';
import type { CliResult } from './cli.js';
import type { TestEngine } from './engine.js';
import { createFederation, type TestFederation } from './federation.js';
import { paymentAccount, type Identifier } from './fixtures.js';

export const SECRET_VAR = 'JOINTBAN_EPOCH_SECRET_1';

/** The identifiers of the walk's listing `label`. */
export const walkIds = (label: string): Identifier[] => [paymentAccount(`alipay:walk-${label}`)];

/** The CLI refused with exit 1 and one line matching `pattern`. */
export function oneLine(result: CliResult, pattern: RegExp): void {
  expect(result.code, result.stdout + result.stderr).toBe(1);
  expect(result.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(pattern)]);
}

export interface WalkFederation {
  fed: TestFederation;
  /** The nodes' environment: the epoch secret, as systemd's EnvironmentFile would give it. */
  env: Record<string, string>;
  alphaDir: string;
}

/**
 * An association, alpha and beta, alpha with its secret moved to the environment and one listing
 * (walk-1) that beta already denies.
 */
export async function startWalkFederation(options: { engine?: TestEngine } = {}): Promise<WalkFederation> {
  const env: Record<string, string> = {};
  const fed = await createFederation(2, { env, ...options });
  try {
    const alphaDir = fed.get('alpha').dataDir;
    const configFile = join(alphaDir, CONFIG_FILE_NAME);
    const config = JSON.parse(readFileSync(configFile, 'utf8')) as { tokens: { epochs: { epoch: number; secret?: string; secretEnv?: string }[] } };
    env[SECRET_VAR] = config.tokens.epochs[0]!.secret!;
    await fed.stopNode('alpha');
    config.tokens.epochs = [{ epoch: 1, secretEnv: SECRET_VAR }];
    writeFileSync(configFile, `${JSON.stringify(config, null, 2)}\n`);
    await fed.startNode('alpha');
    await listOnAlpha(fed, '1');
    return { fed, env, alphaDir };
  } catch (err) {
    await fed.stop();
    throw err;
  }
}

/** Every checkpoint alpha holds, of every log, carries the witness's cosignature. */
export async function allCosigned(fed: TestFederation): Promise<boolean> {
  const node = fed.get('alpha').node;
  const witness = witnessOf(node.federation.roster.current()!)!;
  const repo = new CheckpointRepository(node.database.db);
  for (const origin of ['alpha', 'beta', 'association']) {
    for (const cp of await repo.after(origin, -1, 10_000)) if (!isCosigned(cp.note, witness)) return false;
  }
  return true;
}

/** alpha lists walk-`label`, and beta denies it. */
export async function listOnAlpha(fed: TestFederation, label: string): Promise<void> {
  await fed.list('alpha', walkIds(label));
  await fed.waitForDecision('beta', walkIds(label), 'deny');
}

/**
 * The association lists alpha's new key (`roster rotate-key --at now --retire-at` an hour later,
 * `roster sign`): the same edit function, signed and served by the test federation.
 */
export async function rosterRotateKey(fed: TestFederation, publicKeyHex: string, at = new Date().toISOString()): Promise<void> {
  await fed.updateRoster((draft) => {
    const r = rotateKey(draft, 'alpha', toBase64(fromHex(publicKeyHex)!), at, new Date(Date.now() + 3_600_000).toISOString());
    if (!r.ok) throw new Error(r.error);
    return r.draft;
  });
}

/** The association retires alpha's old key now (`roster retire-key`, `roster sign`). */
export async function rosterRetireKey(fed: TestFederation, publicKeyHex: string): Promise<void> {
  await fed.updateRoster((draft) => {
    const r = retireKey(draft, 'alpha', toBase64(fromHex(publicKeyHex)!), new Date().toISOString());
    if (!r.ok) throw new Error(r.error);
    return r.draft;
  });
}
