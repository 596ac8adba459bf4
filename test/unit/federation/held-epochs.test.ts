/** The token epochs a node names in its checkpoint list, read from peers and compared (federation/held-epochs.ts). */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { epochsStatus, parseHeldEpochs } from '../../../src/federation/held-epochs.js';

interface Case {
  comment: string;
  valid: boolean;
  tags: string[];
  body: { epochs?: unknown };
  epochs?: number[] | null;
}

const vectors = JSON.parse(readFileSync(new URL('../../vectors/held-epochs.json', import.meta.url), 'utf8')) as { cases: Case[] };

describe('parseHeldEpochs: the vectors', () => {
  it.each(vectors.cases.filter((c) => c.valid).map((c) => [c.comment, c] as const))('accepts %s', (_comment, c) => {
    expect(parseHeldEpochs(c.body.epochs)).toEqual({ ok: true, epochs: c.epochs });
  });
  it.each(vectors.cases.filter((c) => !c.valid).map((c) => [c.comment, c] as const))('refuses %s', (_comment, c) => {
    expect(parseHeldEpochs(c.body.epochs)).toMatchObject({ ok: false, error: expect.stringMatching(/^epochs must/) });
  });
});

describe('epochsStatus', () => {
  it('names, per peer, what it lacks of this node epochs and what it holds beyond them', () => {
    const status = epochsStatus(
      [1, 2],
      [
        { member: 'gamma', epochs: [2] },
        { member: 'alpha', epochs: [1] },
        { member: 'beta', epochs: [1, 2] },
        { member: 'delta', epochs: null },
      ],
    );
    expect(status).toEqual({
      held: [1, 2],
      members: [
        { member: 'alpha', held: [1], missing: [2], extra: [] },
        { member: 'beta', held: [1, 2], missing: [], extra: [] },
        { member: 'delta', held: null, missing: [], extra: [] },
        { member: 'gamma', held: [2], missing: [1], extra: [] },
      ],
    });
    // After this node retired epoch 1: a peer that still holds it shows it as extra.
    expect(epochsStatus([2], [{ member: 'alpha', epochs: [1, 2] }]).members).toEqual([{ member: 'alpha', held: [1, 2], missing: [], extra: [1] }]);
  });
});
