/**
 * The webhook signature and retry schedule of docs/EVENTS.md: the header matches an independent
 * HMAC-SHA256 (node:crypto) over "<t>.<body>", and the retry delay doubles from the base, stays
 * within [d/2, d] with jitter, and never exceeds the cap.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { retryDelayMs, webhookSignature } from '../../../src/service/webhook.js';

describe('webhookSignature', () => {
  it('is t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>', () => {
    const secret = 'whsec-unit-0123456789abcdef0123456789';
    const body = '{"id":"1","kind":"match","reference":"user-1"}';
    const expected = createHmac('sha256', secret).update(`1700000000.${body}`).digest('hex');
    expect(webhookSignature(new TextEncoder().encode(secret), 1700000000, body)).toBe(`t=1700000000,v1=${expected}`);
    expect(webhookSignature(new TextEncoder().encode(secret), 1700000001, body)).not.toContain(expected);
  });
});

describe('retryDelayMs', () => {
  it('doubles from the base, with jitter between half and all of it, up to the cap', () => {
    const low = () => 0;
    const high = () => 0.999999;
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1000, 60_000, high))).toEqual([1000, 2000, 4000, 8000]);
    expect([1, 2, 3, 4].map((n) => retryDelayMs(n, 1000, 60_000, low))).toEqual([500, 1000, 2000, 4000]);
    expect(retryDelayMs(30, 1000, 60_000, high)).toBe(60_000);
    expect(retryDelayMs(30, 1000, 60_000, low)).toBe(30_000);
    for (let i = 0; i < 100; i++) {
      const d = retryDelayMs(3, 100, 10_000, Math.random);
      expect(d).toBeGreaterThanOrEqual(200);
      expect(d).toBeLessThanOrEqual(400);
    }
  });
});
