/**
 * Webhook delivery of watch events against a real local HTTP receiver: retries after a 500 and a
 * timeout, the signature verified with the algorithm docs/EVENTS.md gives receivers (node:crypto,
 * not the node's own code), dead letters after maxAttempts shown in the status and redriven by an
 * admin, and delivery resumed after a restart without losing an event.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { readdirSync, readlinkSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { createLogger } from '../../src/logging.js';
import { createNode, type JointbanNode } from '../../src/node.js';
import type { EventsStatus, EventView } from '../../src/service/watch.js';
import { waitFor } from '../helpers/federation.js';
import { exposeGc } from '../helpers/gc.js';
import { json, listingBody, phone } from '../helpers/fixtures.js';
import { createTestNode, TEST_EPOCH_SECRET, tempDir, type TestNode } from '../helpers/test-node.js';

const SECRET = 'whsec-test-0123456789abcdef0123456789abcdef';

/** trickle: a status line, then one header line every 100 ms, never the end of the head. */
type Behaviour = 'ok' | 'fail' | 'hang' | 'trickle';

interface Delivery {
  eventId: string;
  body: string;
  signature: string;
  answered: Behaviour;
}

interface Receiver {
  url: string;
  deliveries: Delivery[];
  /** Decides the answer to the n-th request (0-based). */
  behave: (n: number) => Behaviour;
  /** Trickled answers whose connection the node closed. */
  tricklesClosed: number;
  close(): Promise<void>;
}

/** The receiver-side check docs/EVENTS.md documents, written independently of src/. */
function verifySignature(secret: string, header: string, body: string): boolean {
  const parts = Object.fromEntries(header.split(',').map((p) => p.split('=', 2) as [string, string]));
  const t = parts.t;
  const v1 = parts.v1;
  if (!t || !v1 || !/^\d+$/.test(t)) return false;
  if (Math.abs(Date.now() / 1000 - Number(t)) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${t}.${body}`).digest();
  const given = Buffer.from(v1, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

async function startReceiver(behave: (n: number) => Behaviour): Promise<Receiver> {
  const deliveries: Delivery[] = [];
  const receiver: Receiver = { url: '', deliveries, behave, tricklesClosed: 0, close: async () => undefined };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answered = receiver.behave(deliveries.length);
      deliveries.push({ eventId: String(req.headers['jointban-event-id']), body: Buffer.concat(chunks).toString('utf8'), signature: String(req.headers['jointban-signature']), answered });
      if (answered === 'hang') return;
      if (answered === 'trickle') {
        const socket = req.socket;
        socket.write('HTTP/1.1 200 OK\r\n');
        const timer = setInterval(() => socket.write('x-pad: 1\r\n'), 100);
        socket.once('close', () => {
          clearInterval(timer);
          receiver.tricklesClosed += 1;
        });
        return;
      }
      res.writeHead(answered === 'ok' ? 204 : 500).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/jointban?token=abc`;
  receiver.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return receiver;
}

const cleanup: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const fn of cleanup.splice(0).reverse()) await fn();
});

async function setup(behave: (n: number) => Behaviour, webhook: Record<string, number> = {}): Promise<{ t: TestNode; receiver: Receiver; write: string }> {
  const receiver = await startReceiver(behave);
  cleanup.push(() => receiver.close());
  const secretDir = tempDir();
  cleanup.push(() => rmSync(secretDir, { recursive: true, force: true }));
  const secretFile = join(secretDir, 'webhook.secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const t = await createTestNode({
    extra: {
      events: {
        webhook: { url: receiver.url, secretFile, timeoutMs: 300, maxAttempts: 10, backoffBaseMs: 20, backoffMaxMs: 100, pollIntervalMs: 20, ...webhook },
      },
    },
  });
  cleanup.push(() => t.stop());
  const write = await t.key('write');
  return { t, receiver, write };
}

async function eventsStatus(t: TestNode): Promise<EventsStatus> {
  const res = await t.request('GET', '/v1/federation/status', { key: t.adminKey });
  expect(res.status).toBe(200);
  return (await json<{ events: EventsStatus }>(res)).events;
}

async function watchAndList(t: TestNode, write: string, references: string[]): Promise<void> {
  const put = await t.request('PUT', '/v1/watch', { key: write, body: { watch: references.map((reference) => ({ reference, identifiers: [phone()] })) } });
  expect(put.status).toBe(200);
  expect((await t.request('POST', '/v1/listings', { key: write, body: listingBody() })).status).toBe(201);
}

describe('webhook delivery retries until the receiver answers 2xx', () => {
  it('after a 500 and a timeout, delivers the same signed body, and counts each outcome', async () => {
    const script: Behaviour[] = ['fail', 'hang', 'ok'];
    const { t, receiver, write } = await setup((n) => script[n] ?? 'ok');
    await watchAndList(t, write, ['acct-7']);

    await waitFor(() => receiver.deliveries.some((d) => d.answered === 'ok'), { message: 'a successful delivery' });
    expect(receiver.deliveries.map((d) => d.answered)).toEqual(['fail', 'hang', 'ok']);
    expect(new Set(receiver.deliveries.map((d) => d.body)).size).toBe(1);
    for (const d of receiver.deliveries) {
      expect(d.eventId).toBe('1');
      expect(verifySignature(SECRET, d.signature, d.body), d.signature).toBe(true);
      // A signature over another body, or with another secret, does not verify.
      expect(verifySignature(SECRET, d.signature, `${d.body} `)).toBe(false);
      expect(verifySignature(`${SECRET}x`, d.signature, d.body)).toBe(false);
    }
    const event = JSON.parse(receiver.deliveries[2]!.body) as EventView;
    expect(event).toMatchObject({ id: '1', kind: 'match', reference: 'acct-7', listingId: 'alpha:1', origin: 'alpha' });
    expect(event.registration.decision).toBe('deny');

    await waitFor(async () => (await eventsStatus(t)).delivered === 1, { message: 'the status to show the delivery' });
    const status = await eventsStatus(t);
    expect(status).toMatchObject({ watchedReferences: 1, events: 1, pending: 0, deadLetters: 0, lagSeconds: 0 });
    // The status names the webhook by origin only: no path, no query token.
    expect(status.webhook).toBe(new URL(receiver.url).origin);

    const metrics = await (await t.request('GET', '/metrics', { key: t.adminKey })).text();
    expect(metrics).toMatch(/jointban_webhook_deliveries_total\{outcome="delivered"\} 1/);
    expect(metrics).toMatch(/jointban_webhook_deliveries_total\{outcome="failed"\} 2/);
    expect(metrics).toMatch(/jointban_webhook_failures_total\{reason="http_status"\} 1/);
    expect(metrics).toMatch(/jointban_webhook_failures_total\{reason="timeout"\} 1/);
    expect(metrics).toMatch(/jointban_watch_events\{state="delivered"\} 1/);
    expect(metrics).toMatch(/jointban_webhook_dead_letters 0/);
    expect(t.logs()).toContain('webhook delivery failed');
    expect(t.logs()).not.toContain(SECRET);
    expect(t.logs()).not.toContain('token=abc');
  });
});

describe('a receiver that trickles its answer, with the garbage collector running', () => {
  it('is cut at timeoutMs and counted as a timeout; the next attempt delivers', async () => {
    const gc = exposeGc();
    expect(gc, 'gc() must be exposed: without a collector this test proves nothing').toBeTypeOf('function');
    const collector = setInterval(() => gc!(), 50);
    cleanup.push(() => clearInterval(collector));
    const script: Behaviour[] = ['trickle', 'ok'];
    // Generous for an honest answer on a loaded machine; the trickle never ends whatever the limit.
    const { t, receiver, write } = await setup((n) => script[n] ?? 'ok', { timeoutMs: 2_000 });
    await watchAndList(t, write, ['acct-trickle']);

    await waitFor(async () => (await eventsStatus(t)).delivered === 1, { message: 'a delivery after the trickled attempt' });
    expect(receiver.deliveries[0]?.answered).toBe('trickle');
    expect(receiver.deliveries.at(-1)?.answered).toBe('ok');
    // The node closed the trickling connection itself; the receiver never ends that head.
    await waitFor(() => receiver.tricklesClosed === 1, { message: 'the trickling connection closed by the node' });
    const metrics = await (await t.request('GET', '/metrics', { key: t.adminKey })).text();
    expect(metrics).toMatch(/jointban_webhook_failures_total\{reason="timeout"\} [1-9]/);
    expect(metrics).toMatch(/jointban_webhook_deliveries_total\{outcome="delivered"\} 1/);
  });
});

describe('dead letters', () => {
  it('after maxAttempts failures: shown in the status and metrics, later events still delivered, redriven by an admin', async () => {
    let healthy = false;
    const { t, receiver, write } = await setup(() => (healthy ? 'ok' : 'fail'), { maxAttempts: 3 });
    await watchAndList(t, write, ['acct-1']);

    await waitFor(async () => (await eventsStatus(t)).deadLetters === 1, { message: 'a dead letter' });
    const status = await eventsStatus(t);
    expect(status.deadLetterList).toEqual([expect.objectContaining({ id: '1', reference: 'acct-1', attempts: 3, lastError: 'HTTP 500' })]);
    expect(receiver.deliveries).toHaveLength(3);
    expect(await (await t.request('GET', '/metrics', { key: t.adminKey })).text()).toMatch(/jointban_webhook_dead_letters 1/);

    // The dead letter no longer holds the queue: a later event goes out once the receiver recovers.
    healthy = true;
    expect((await t.request('PUT', '/v1/watch', { key: write, body: { watch: [{ reference: 'acct-2', identifiers: [phone()] }] } })).status).toBe(200);
    await waitFor(() => receiver.deliveries.some((d) => d.eventId === '2' && d.answered === 'ok'), { message: 'event 2 delivered' });

    expect((await t.request('POST', '/v1/events/dead-letters/redrive', { key: write })).status).toBe(403);
    const res = await t.request('POST', '/v1/events/dead-letters/redrive', { key: t.adminKey });
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ redriven: 1 });
    await waitFor(() => receiver.deliveries.some((d) => d.eventId === '1' && d.answered === 'ok'), { message: 'the redriven event delivered' });
    await waitFor(async () => (await eventsStatus(t)).delivered === 2, { message: 'both delivered' });
    expect((await eventsStatus(t)).deadLetterList).toEqual([]);
  });
});

describe('delivery survives a restart', () => {
  it('sends every event recorded before the stop, the one in flight included, once the node is back', async () => {
    let up = false;
    const { t, receiver, write } = await setup(() => (up ? 'ok' : 'hang'), { timeoutMs: 10_000 });
    await watchAndList(t, write, ['acct-a', 'acct-b', 'acct-c']);
    // The first event's attempt hangs: the node stops with it in flight.
    await waitFor(() => receiver.deliveries.length === 1, { message: 'an attempt in flight' });
    await t.close();

    up = true;
    const node: JointbanNode = await createNode(loadConfig(t.dataDir, {}), { logger: createLogger('silent') });
    cleanup.push(() => node.stop());
    await node.listen();
    await waitFor(() => new Set(receiver.deliveries.filter((d) => d.answered === 'ok').map((d) => d.eventId)).size === 3, { message: 'all three events delivered' });
    const delivered = receiver.deliveries.filter((d) => d.answered === 'ok');
    expect(delivered.map((d) => d.eventId)).toEqual(['1', '2', '3']);
    expect(delivered.map((d) => (JSON.parse(d.body) as EventView).reference)).toEqual(['acct-a', 'acct-b', 'acct-c']);
    for (const d of delivered) expect(verifySignature(SECRET, d.signature, d.body)).toBe(true);
    // The receiver answers before the node records the delivery.
    await waitFor(async () => (await node.watch.status()).delivered === 3, { message: 'three deliveries recorded' });
    // The stop cut the attempt short: it was not counted as a failure.
    const rows = await node.database.db.selectFrom('watch_events').select(['id', 'state', 'attempts']).orderBy('id').execute();
    expect(rows.map((r) => [Number(r.id), r.state, Number(r.attempts)])).toEqual([
      [1, 'delivered', 0],
      [2, 'delivered', 0],
      [3, 'delivered', 0],
    ]);
  });
});

describe('the webhook secret file', () => {
  it('is refused at start when other users can read it, without echoing it', async () => {
    const dir = tempDir();
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    const secretFile = join(dir, 'webhook.secret');
    writeFileSync(secretFile, SECRET, { mode: 0o644 });
    const err = await createTestNode({ extra: { events: { webhook: { url: 'http://127.0.0.1:9/h', secretFile } } } }).then(
      (t) => {
        cleanup.push(() => t.stop());
        return undefined;
      },
      (e: unknown) => e as Error,
    );
    expect(err?.message).toMatch(/webhook secret file .* is readable by other users/);
    expect(err?.message).not.toContain(SECRET);
  });

  // The refusal comes after the database was opened: the node that never started must not keep it
  // open (a command retrying in the same process, or a test, would find it locked).
  it.runIf(process.platform === 'linux')('leaves no file of the data directory open when it refuses', async () => {
    const dataDir = tempDir();
    cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
    const secretFile = join(dataDir, 'webhook.secret');
    writeFileSync(secretFile, SECRET, { mode: 0o644 });
    await initDataDir({ dataDir, member: 'alpha', port: 0, epochs: [{ epoch: 1, secret: TEST_EPOCH_SECRET }], extra: { events: { webhook: { url: 'http://127.0.0.1:9/h', secretFile } } } });
    const openInDataDir = () =>
      readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`).startsWith(dataDir);
        } catch {
          return false;
        }
      });
    await expect(createNode(loadConfig(dataDir, {}), { logger: createLogger('silent') })).rejects.toThrow(/webhook secret file .* is readable by other users/);
    expect(openInDataDir()).toEqual([]);
  });
});
