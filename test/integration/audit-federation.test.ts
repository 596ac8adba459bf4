/**
 * The audit report in a real federation (association + alpha + beta over loopback): the
 * association mirrors every member's log, so its report counts every member's listings and sees a
 * ban listed by both platforms as corroborated; a platform's own report shows its peers too, and
 * check counts only on its own row.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditReport, MemberStats } from '../../src/audit/report-types.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { email, json, nationalId, phone } from '../helpers/fixtures.js';

let fed: TestFederation;

beforeAll(async () => {
  fed = await createFederation(2);
}, 120_000);
afterAll(() => fed?.stop());

async function report(member: string, scope: 'auditor' | 'admin'): Promise<AuditReport> {
  const node = fed.get(member);
  const key = scope === 'admin' ? node.adminKey : (await node.node.keys.create('auditor', 'federation audit test')).key;
  const from = new Date(Date.now() - 86_400_000).toISOString();
  const to = new Date(Date.now() + 86_400_000).toISOString();
  const res = await fetch(`${node.url}/v1/audit/report?from=${from}&to=${to}`, { headers: { authorization: `Bearer ${key}` } });
  expect(res.status).toBe(200);
  return json<AuditReport>(res);
}

const row = (r: AuditReport, member: string): MemberStats => {
  const found = r.members.find((m) => m.member === member);
  if (!found) throw new Error(`no row for ${member} in ${r.node}'s report`);
  return found;
};

describe('a ban listed by two platforms', () => {
  it('is corroborated in the association’s report, which counts every member', async () => {
    await fed.list('alpha', [phone(), email()]);
    await fed.list('beta', [nationalId(), phone()]);
    await fed.list('beta', [email('other.person@example.com')]);
    await waitFor(async () => (await fed.logSize('association', 'alpha')) === 1 && (await fed.logSize('association', 'beta')) === 2, {
      message: 'the association to mirror both logs',
    });
    const r = await report('association', 'auditor');
    expect(r.node).toBe('association');
    expect(r.members.map((m) => m.member)).toEqual(['alpha', 'association', 'beta']);
    expect(row(r, 'alpha')).toMatchObject({ listings: 1, corroborated: 1, listingsByIdentifierType: { phone: 1, email: 1, national_id: 0 }, checks: null });
    expect(row(r, 'beta')).toMatchObject({ listings: 2, corroborated: 1, listingsByIdentifierType: { phone: 1, email: 1, national_id: 1 }, checks: null });
  });

  it('shows on a platform’s own report, with its checks on its own row only', async () => {
    await waitFor(async () => (await fed.logSize('alpha', 'beta')) === 2, { message: 'alpha to mirror beta' });
    await fed.check('alpha', [phone()]);
    const r = await report('alpha', 'admin');
    expect(row(r, 'alpha').corroborated).toBe(1);
    expect(row(r, 'beta').corroborated).toBe(1);
    expect(row(r, 'alpha').checks).toEqual([
      { purpose: 'registration', served: 1, identifiers: 1, hits: 1, hitRate: 1 },
      { purpose: 'monetization', served: 0, identifiers: 0, hits: 0, hitRate: null },
      { purpose: 'watch', served: 0, identifiers: 0, hits: 0, hitRate: null },
    ]);
    expect(row(r, 'beta').checks).toBeNull();
  });
});
