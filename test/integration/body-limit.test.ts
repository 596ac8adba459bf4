/**
 * The body limit of /v1/check over a real socket (api/middleware.ts limitBody): judged by the
 * declared Content-Length, and by counting when the body is chunked (no length declared).
 */
import { request } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { phone } from '../helpers/fixtures.js';
import { createTestNode, type TestNode } from '../helpers/test-node.js';

const LIMIT = 2048;
let t: TestNode;
let key: string;
beforeEach(async () => {
  t = await createTestNode({ extra: { http: { maxBodyBytes: LIMIT } } });
  key = await t.key('check');
});
afterEach(() => t.stop());

/** POSTs the body in pieces with Transfer-Encoding: chunked. */
function postChunked(pieces: string[]): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${t.url}/v1/check`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    for (const piece of pieces) req.write(piece);
    req.end();
  });
}

describe('POST /v1/check body limit', () => {
  it('a declared length over the limit → 413 JSON error', async () => {
    const body = { identifiers: [phone()], pad: 'x'.repeat(LIMIT) };
    const res = await t.request('POST', '/v1/check', { key, body });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('a chunked body over the limit → 413 JSON error', async () => {
    const json = JSON.stringify({ identifiers: [phone()], purpose: 'registration' });
    const res = await postChunked([json.slice(0, -1), ' '.repeat(LIMIT), '}']);
    expect(res.status).toBe(413);
    expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('payload_too_large');
  });

  it('a chunked body under the limit is served', async () => {
    const json = JSON.stringify({ identifiers: [phone()] });
    const res = await postChunked([json.slice(0, 10), json.slice(10)]);
    expect(res.status).toBe(200);
    expect((JSON.parse(res.body) as { decision: string }).decision).toBe('allow');
  });
});
