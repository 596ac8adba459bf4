/** What each API key scope may call: the platform chain admin ⊃ write ⊃ check, and auditor apart. */
import { describe, expect, it } from 'vitest';
import { describeScopes, SCOPES, scopeAllows, type Scope } from '../../../src/service/api-keys.js';

const ALLOWED: Record<Scope, Scope[]> = {
  check: ['check'],
  write: ['check', 'write'],
  admin: ['check', 'write', 'admin', 'auditor'],
  auditor: ['auditor'],
};

describe('scopeAllows', () => {
  it.each(SCOPES.flatMap((held) => SCOPES.map((needed) => [held, needed] as const)))('%s key on a %s call', (held, needed) => {
    expect(scopeAllows(held, needed)).toBe(ALLOWED[held].includes(needed));
  });

  it('lets no platform scope but admin read audit data, and auditor nothing else', () => {
    expect(SCOPES.filter((s) => scopeAllows(s, 'auditor'))).toEqual(['admin', 'auditor']);
    expect(SCOPES.filter((s) => scopeAllows('auditor', s))).toEqual(['auditor']);
  });
});

describe('describeScopes', () => {
  it('says what each scope also grants, for the CLI help', () => {
    expect(describeScopes()).toBe('check; write (also check); admin (also write, check, auditor); auditor');
  });
});
