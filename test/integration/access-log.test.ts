/**
 * The access log (docs/OPERATIONS.md, "Logs"): one JSON line per request that names the API key by
 * its id, so an operator can tell which platform client sent what, and never carries the key's
 * secret or the identifiers of the body.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { DashboardClient } from '../helpers/dashboard-client.js';
import { phone } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode | undefined;
afterEach(async () => {
  await t?.stop();
  t = undefined;
});

interface AccessLine {
  msg: string;
  requestId: string;
  method: string;
  route: string;
  status: number;
  ms: number;
  keyId?: string;
}

/** The secret half of `jb_<id>_<secret>`; both halves are base64url, so they may hold '_' themselves. */
function secretOf(created: { id: string; key: string }): string {
  const prefix = `jb_${created.id}_`;
  expect(created.key.startsWith(prefix)).toBe(true);
  return created.key.slice(prefix.length);
}

function accessLines(logs: string): AccessLine[] {
  return logs
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as AccessLine)
    .filter((line) => line.msg === 'request');
}

describe('the access log', () => {
  it('names the key by its id, not its secret, and leaves the identifiers out', async () => {
    t = await createTestNode();
    const created = await t.node.keys.create('check', 'registration service');
    const identifier = phone('+86 138 0013 8000');
    const res = await t.request('POST', '/v1/check', { key: created.key, body: { identifiers: [identifier] }, headers: { 'x-request-id': 'req-access-1' } });
    expect(res.status).toBe(200);
    const anonymous = await t.request('POST', '/v1/check', { body: { identifiers: [identifier] } });
    expect(anonymous.status).toBe(401);

    const lines = accessLines(t.logs());
    const line = lines.find((l) => l.requestId === 'req-access-1');
    expect(line).toMatchObject({ method: 'POST', route: '/v1/check', status: 200, keyId: created.id });
    expect(typeof line!.ms).toBe('number');
    // A request without a key has no key id (and is still logged).
    expect(lines.some((l) => l.status === 401 && l.route === '/v1/check' && l.keyId === undefined)).toBe(true);
    const secret = secretOf(created);
    expect(secret).toHaveLength(43);
    expect(t.logs()).not.toContain(secret);
    expect(t.logs()).not.toContain('13800138000');
  });

  it('dashboard sign-ins and sign-outs name the key by its id too', async () => {
    t = await createTestNode();
    const node = t;
    const created = await node.node.keys.create('auditor', 'auditor laptop');
    const dashboard = new DashboardClient((input, init) => node.node.app.request(input, init));
    expect((await dashboard.login(created.key)).status).toBe(303);
    const lines = node
      .logs()
      .split('\n')
      .filter((line) => line.trim() !== '')
      .map((line) => JSON.parse(line) as { msg: string; keyId?: string; key?: string });
    expect(lines.find((l) => l.msg === 'dashboard sign-in')).toMatchObject({ keyId: created.id });
    expect(lines.some((l) => l.key === '[redacted]')).toBe(false);
    expect(node.logs()).not.toContain(secretOf(created));
  });
});
