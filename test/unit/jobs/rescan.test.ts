/**
 * runRescan (src/jobs/rescan.ts) over the row-job harness, with a stand-in check service: which
 * failures refuse one user and which fail the run.
 */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { AppError } from '../../../src/errors.js';
import type { LineWriter } from '../../../src/jobs/output.js';
import { runRescan } from '../../../src/jobs/rescan.js';
import { openRowSource } from '../../../src/jobs/row-source.js';
import { USER_COLUMNS } from '../../../src/jobs/rows.js';
import type { CheckResult } from '../../../src/service/checks.js';

const USERS = ['u1', 'u2', 'u3'].map((reference, i) => JSON.stringify({ reference, identifiers: [{ type: 'email', value: `user${i}@example.com` }] })).join('\n');

/** `check` is handed the user's email address. */
async function rescan(check: (email: string | undefined) => CheckResult, out: LineWriter) {
  const rejected: [number, string][] = [];
  const source = await openRowSource({ file: '-', format: 'jsonl', columns: USER_COLUMNS, stdin: Readable.from([Buffer.from(USERS)]) });
  const result = await runRescan({
    source,
    checks: {
      check: async ({ identifiers }) => check(identifiers?.[0]?.value),
    },
    purpose: 'registration',
    rules: { categories: ['fraud'], maxIdentifiers: 10 },
    rejects: { add: async (row, reason) => void rejected.push([row, reason]) },
    out,
    outFormat: 'jsonl',
  });
  return { result, rejected };
}

const deny: CheckResult = { decision: 'deny', purpose: 'registration', matches: [], penalties: [], rules: [] };
const allow: CheckResult = { ...deny, decision: 'allow' };

function memoryOut(): LineWriter & { lines: string[] } {
  const lines: string[] = [];
  return { lines, write: async (text) => void lines.push(text), close: async () => undefined };
}

describe('rescan refusals', () => {
  it('refuses the user whose check fails with an AppError, and checks the others', async () => {
    const out = memoryOut();
    const { result, rejected } = await rescan((email) => {
      if (email === 'user1@example.com') throw new AppError('invalid_input', 'identifiers[0] (email): not a valid address');
      return email === 'user2@example.com' ? deny : allow;
    }, out);
    expect(result).toMatchObject({ rows: 3, checked: 2, flagged: 1, deny: 1, review: 0, rejected: 1 });
    expect(rejected).toEqual([[2, 'identifiers[0] (email): not a valid address']]);
    expect(out.lines.map((l) => JSON.parse(l).reference)).toEqual(['u3']);
  });

  it('fails the run when the output cannot be written, instead of refusing the user', async () => {
    const failing: LineWriter = {
      write: async () => {
        throw new AppError('internal', 'out.jsonl: write failed (ENOSPC)');
      },
      close: async () => undefined,
    };
    await expect(rescan(() => deny, failing)).rejects.toThrow('write failed (ENOSPC)');
  });
});
