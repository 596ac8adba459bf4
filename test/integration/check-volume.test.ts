/**
 * The check_volume_jump anomaly in the audit report of a real node: per-key daily counts written
 * to `check_counts` with exact values (as the check counter's flush writes them), and the report
 * of March 2025 flags exactly the key-days the rule in docs/AUDIT.md names, in JSON and CSV.
 * Baselines reach back before the window. The rule counts identifiers tested, not requests (each
 * row's requests are a sixteenth of its identifiers, as checks of 16 would be), and watch
 * enrolments count with checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addDays } from '../../src/audit/window.js';
import { CheckCountRepository, type CheckCountDelta } from '../../src/store/check-count-repository.js';
import { json } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

let t: TestNode;
let auditor: string;

const STEADY = 'steadyKey000';
const NEW = 'newKey000000';
const BIG = 'bigKey000000';
const OLD = 'oldKey000000';

const row = (keyId: string, day: string, identifiers: number, purpose = 'registration'): CheckCountDelta => ({
  day,
  purpose,
  keyId,
  served: Math.ceil(identifiers / 16),
  identifiers,
  hits: 0,
});
const days = (from: string, n: number): string[] => Array.from({ length: n }, (_, i) => addDays(from, i));

beforeAll(async () => {
  t = await createTestNode({ now: () => new Date('2025-04-05T12:00:00.000Z') });
  auditor = await t.key('auditor');
  await new CheckCountRepository(t.node.database.db).add([
    // 100 a day from 03-01 to 03-14; on 03-15, 400 registration + 200 monetization + 400 watched = 1000 ≥ max(1000, 10 × 100).
    ...days('2025-03-01', 14).map((d) => row(STEADY, d, 100)),
    row(STEADY, '2025-03-15', 400),
    row(STEADY, '2025-03-15', 200, 'monetization'),
    row(STEADY, '2025-03-15', 400, 'watch'),
    // 150 a day from 03-16 (baseline 100 or 150): never a jump.
    ...days('2025-03-16', 16).map((d) => row(STEADY, d, 150)),
    // A key first used on 03-20: 999 is below the minimum, 03-21's 1000 is not.
    row(NEW, '2025-03-20', 999),
    row(NEW, '2025-03-21', 1000),
    // 1500 a day in the second half of February: 15 000 on 03-01 is 10 × that, 14 999 on 03-02 is not.
    ...days('2025-02-15', 14).map((d) => row(BIG, d, 1500)),
    row(BIG, '2025-03-01', 15_000),
    row(BIG, '2025-03-02', 14_999),
    // A jump before the window is not reported.
    row(OLD, '2025-02-20', 50_000),
  ]);
});
afterAll(() => t.stop());

interface ReportBody {
  anomalies: { member: string; kind: string; detail: string }[];
}

describe('the audit report flags jumps in a key’s check volume', () => {
  it('names exactly the key-days over max(1000, 10 × the median of the 14 days before), in day order', async () => {
    const res = await t.request('GET', '/v1/audit/report?from=2025-03-01&to=2025-04-01', { key: auditor });
    expect(res.status).toBe(200);
    const body = await json<ReportBody>(res);
    expect(body.anomalies.filter((a) => a.kind === 'check_volume_jump')).toEqual([
      { member: 'alpha', kind: 'check_volume_jump', detail: `API key ${BIG}: 15000 identifiers tested (checks and watch enrolments) on 2025-03-01; baseline 1500 per day (threshold 15000)` },
      { member: 'alpha', kind: 'check_volume_jump', detail: `API key ${STEADY}: 1000 identifiers tested (checks and watch enrolments) on 2025-03-15; baseline 100 per day (threshold 1000)` },
      { member: 'alpha', kind: 'check_volume_jump', detail: `API key ${NEW}: 1000 identifiers tested (checks and watch enrolments) on 2025-03-21; baseline 0 per day (threshold 1000)` },
    ]);
  });

  it('only inside the window: a window of 03-02 to 03-15 holds none', async () => {
    const res = await t.request('GET', '/v1/audit/report?from=2025-03-02&to=2025-03-15', { key: auditor });
    expect((await json<ReportBody>(res)).anomalies.filter((a) => a.kind === 'check_volume_jump')).toEqual([]);
  });

  it('shows in the anomalies column of the CSV', async () => {
    const res = await t.request('GET', '/v1/audit/report?from=2025-03-01&to=2025-04-01&format=csv', { key: auditor });
    const [header, alpha] = (await res.text()).split('\r\n').map((line) => line.split(','));
    expect(alpha![header!.indexOf('anomalies')]).toBe('check_volume_jump');
  });
});
