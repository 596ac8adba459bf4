/**
 * The start-up comparison of the own log holds writes back for a bounded time only
 * (docs/OPERATIONS.md, "Losing a node's disk"): a peer that neither answers nor refuses keeps the
 * node's listings at 503 `recovering` until sync.requestTimeoutMs has passed, and no longer, so one
 * hanging peer cannot keep a node from listing.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import { gateCheckpointLists } from '../helpers/checkpoint-gate.js';
import { createFederation, waitFor, type TestFederation } from '../helpers/federation.js';
import { listingBody, paymentAccount } from '../helpers/fixtures.js';

let fed: TestFederation | undefined;
let restarted: JointbanNode | undefined;
/** Lets the held comparison go on at the end, so the node can stop. */
let release: () => void = () => undefined;

afterAll(async () => {
  release();
  await restarted?.stop();
  await fed?.stop();
});

describe('the start-up hold of own-log writes', () => {
  it('ends at sync.requestTimeoutMs when a peer never answers', { timeout: 60_000 }, async () => {
    fed = await createFederation(1);
    const f = fed;
    const alpha = f.get('alpha');
    await f.stopNode('alpha');
    const config = loadConfig(alpha.dataDir, {});
    restarted = await createNode({ ...config, sync: { ...config.sync, requestTimeoutMs: 1_500 } }, { logger: createLogger('silent') });
    const node = restarted;
    // The association holds the request open and never answers (until the test ends).
    release = gateCheckpointLists(node);
    const listening = node.listen();
    const url = await waitFor(() => node.url, { message: 'the node to listen' });
    const post = (label: string) =>
      fetch(`${url}/v1/listings`, {
        method: 'POST',
        headers: { authorization: `Bearer ${alpha.writeKey}`, 'content-type': 'application/json' },
        body: JSON.stringify(listingBody({ identifiers: [paymentAccount(`alipay:hold-${label}`)] })),
      });
    const early = await post('early');
    expect(early.status).toBe(503);
    expect(((await early.json()) as { error: { code: string } }).error.code).toBe('recovering');
    await listening;
    // The deadline has passed with the peer still silent: writes go on (and no mark was set).
    const after = await post('after');
    expect(after.status).toBe(201);
    expect(((await after.json()) as { id: string }).id).toBe('alpha:1');
    expect((await node.federation.status()).ownLogRecovery).toBeNull();
  });
});
