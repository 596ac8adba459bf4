/** The request and answer shapes of POST /v1/federation/cosignatures (test/vectors/cosign-request.json) against witness-requests.ts. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseCosignRequest, parseCosignResponse } from '../../../src/federation/witness-requests.js';

interface Case {
  comment: string;
  valid: boolean;
  tags: string[];
  body: unknown;
}
interface ResponseCase extends Case {
  notes: number;
}

const vectors = JSON.parse(readFileSync(new URL('../../vectors/cosign-request.json', import.meta.url), 'utf8')) as { requests: Case[]; responses: ResponseCase[] };
const named = <T extends Case>(cases: T[], valid: boolean) => cases.filter((c) => c.valid === valid).map((c) => [c.comment, c] as const);

describe('parseCosignRequest: the vectors', () => {
  it.each(named(vectors.requests, true))('accepts %s', (_comment, c) => {
    const body = c.body as { origin: string; checkpoints: string[] };
    expect(parseCosignRequest(c.body)).toEqual({ origin: body.origin, notes: body.checkpoints });
  });
  it.each(named(vectors.requests, false))('refuses %s', (_comment, c) => {
    expect(parseCosignRequest(c.body)).toBeUndefined();
  });
});

describe('parseCosignResponse: the vectors', () => {
  it.each(named(vectors.responses, true))('accepts %s', (_comment, c) => {
    expect(parseCosignResponse(c.body, c.notes)).toEqual((c.body as { checkpoints: unknown[] }).checkpoints);
  });
  it.each(named(vectors.responses, false))('refuses %s', (_comment, c) => {
    expect(parseCosignResponse(c.body, c.notes)).toBeUndefined();
  });
});
