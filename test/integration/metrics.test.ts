/** `GET /metrics`: Prometheus text, admin only, with check and listing figures and no identifiers. */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
const phone = '+86 138 0013 8000';

beforeEach(async () => {
  t = await createTestNode();
});

afterEach(async () => {
  await t.stop();
});

describe('GET /metrics', () => {
  it('needs an admin key', async () => {
    expect((await t.request('GET', '/metrics')).status).toBe(401);
    expect((await t.request('GET', '/metrics', { key: await t.key('check') })).status).toBe(403);
  });

  it('counts listings, retractions and checks by purpose and decision, without identifiers', async () => {
    const created = (await (
      await t.request('POST', '/v1/listings', { key: t.adminKey, body: { identifiers: [{ type: 'phone', value: phone }], category: 'fraud', severity: 'severe', banUntil: null } })
    ).json()) as { id: string };
    for (let i = 0; i < 3; i++) expect((await t.request('POST', '/v1/check', { key: t.adminKey, body: { identifiers: [{ type: 'phone', value: phone }] } })).status).toBe(200);
    expect((await t.request('POST', `/v1/listings/${created.id}/retract`, { key: t.adminKey, body: { reason: 'appeal_upheld' } })).status).toBe(200);
    expect((await t.request('POST', '/v1/check', { key: t.adminKey, body: { identifiers: [{ type: 'phone', value: phone }] } })).status).toBe(200);

    const res = await t.request('GET', '/metrics', { key: t.adminKey });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    const text = await res.text();
    expect(text).toMatch(/^jointban_checks_total\{purpose="registration",decision="deny"\} 3$/m);
    expect(text).toMatch(/^jointban_checks_total\{purpose="registration",decision="allow"\} 1$/m);
    expect(text).toMatch(/^jointban_check_duration_seconds_count\{purpose="registration",decision="deny"\} 3$/m);
    expect(text).toMatch(/^jointban_own_log_entries_total\{kind="listing"\} 1$/m);
    expect(text).toMatch(/^jointban_own_log_entries_total\{kind="retraction"\} 1$/m);
    expect(text).toMatch(/^jointban_log_size\{origin="alpha"\} 2$/m);
    expect(text).toMatch(/^jointban_federation_status_ok 1$/m);
    expect(text).not.toContain('13800138000');
  });

  it('shows a series per token epoch held, the number only', async () => {
    const text = await (await t.request('GET', '/metrics', { key: t.adminKey })).text();
    expect(text.match(/^jointban_token_epoch_held\{.*$/gm)).toEqual(['jointban_token_epoch_held{epoch="1"} 1']);
    // A standalone node has no peers to compare with.
    expect(text).not.toMatch(/^jointban_peer_token_epochs_missing\{/m);
  });
});
