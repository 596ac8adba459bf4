/**
 * API key ids are typed on command lines (`jointban apikey revoke <id>`): one that starts with '-'
 * is read as an option. The CI caught it once in 64 runs of the revoke test.
 */
import { describe, expect, it } from 'vitest';
import { newKeyId } from '../../../src/service/api-keys.js';

describe('API key ids', () => {
  it('are 12 base64url characters and never start with "-"', () => {
    // Without the rule, 2,000 ids all avoiding a leading '-' has a chance of (63/64)^2000 ≈ 2e-14.
    const ids = Array.from({ length: 2000 }, () => newKeyId());
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9_][A-Za-z0-9_-]{11}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });
});
