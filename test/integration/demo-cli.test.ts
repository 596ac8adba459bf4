/**
 * `jointban demo` as a user runs it: the built CLI as a child process starts an association and
 * two platform nodes; a listing on one is denied on the other, a retraction lifts it, and SIGTERM
 * stops everything, exits 0 and removes the demo's temp directory.
 *
 * The child gets its own TMPDIR (os.tmpdir() honours it), so the directory the demo creates is
 * the only entry there: the test can see that it existed while running and is gone afterwards,
 * without guessing among other runs' `jointban-demo-*` directories in the shared temp dir.
 */
import type { ChildProcess } from 'node:child_process';
import { readdirSync, rmSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { spawnDemo, type DemoSummary } from '../helpers/demo.js';
import { waitFor } from '../helpers/federation.js';
import { json, listingBody, phone, type CheckBody, type CreatedListingBody } from '../helpers/fixtures.js';
import { tempDir } from '../helpers/test-node.js';

let child: ChildProcess | undefined;
let tmp: string | undefined;

afterEach(() => {
  if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  child = undefined;
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

const post = (url: string, key: string, body: unknown) => fetch(url, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

it('jointban demo --json --nodes 2: list on one node, denied on the other, retract, SIGTERM → exit 0 and the temp dir removed', async () => {
  tmp = tempDir('jointban-demo-cli-');
  const demo = spawnDemo(['--nodes', '2'], { TMPDIR: tmp });
  const { proc, exited } = demo;
  child = proc;
  const summary = await demo.summary();
  expect(summary.nodes.map((n) => n.member)).toEqual(['alpha', 'beta']);
  expect(summary.association.member).toBe('association');
  const demoDirs = readdirSync(tmp);
  expect(demoDirs).toEqual([expect.stringMatching(/^jointban-demo-/)]);

  const [first, second] = summary.nodes as [DemoSummary['nodes'][number], DemoSummary['nodes'][number]];
  const ids = [phone()];
  const check = async () => json<CheckBody>(await post(`${second.url}/v1/check`, second.apiKeys.check, { identifiers: ids }));
  expect((await check()).decision).toBe('allow');

  const listedRes = await post(`${first.url}/v1/listings`, first.apiKeys.write, listingBody({ identifiers: ids }));
  expect(listedRes.status).toBe(201);
  const listed = await json<CreatedListingBody>(listedRes);
  await waitFor(async () => (await check()).decision === 'deny', { message: `${second.member} to deny the identifier listed on ${first.member}` });

  const retracted = await post(`${first.url}/v1/listings/${listed.id}/retract`, first.apiKeys.write, { reason: 'appeal_upheld' });
  expect(retracted.status).toBe(200);
  await waitFor(async () => (await check()).decision === 'allow', { message: `${second.member} to allow again after the retraction` });

  proc.kill('SIGTERM');
  await waitFor(() => proc.exitCode !== null || proc.signalCode !== null, { timeoutMs: 20_000, message: 'the demo to exit after SIGTERM' });
  expect(await exited, demo.stderr()).toEqual({ code: 0, signal: null });
  expect(readdirSync(tmp)).toEqual([]);
});
