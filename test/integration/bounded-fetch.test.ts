/**
 * The one outbound HTTP client (src/bounded-fetch.ts) against loopback servers: the deadline
 * covers the head and every byte of the body with the garbage collector running, the byte limit
 * (declared or counted), the caller's signal, and an answer whose body is not wanted. Each failure
 * also closes the connection: the server sees its socket close.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { boundedFetch, BoundedFetchError, Deadline } from '../../src/common/bounded-fetch.js';
import { waitFor } from '../helpers/federation.js';
import { exposeGc } from '../helpers/gc.js';

interface TestServer {
  url: string;
  /** Requests the server received. */
  requests: number;
  /** Connections the server saw close. */
  closed: number;
  server: Server;
}

const servers: TestServer[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.server.closeAllConnections();
    await new Promise<void>((resolve) => s.server.close(() => resolve()));
  }
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<TestServer> {
  const server = createServer(handler);
  const t: TestServer = { url: '', requests: 0, closed: 0, server };
  server.on('request', () => (t.requests += 1));
  server.on('connection', (socket) => socket.once('close', () => (t.closed += 1)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
  servers.push(t);
  return t;
}

/** One space a tick, for ever (until the client goes). */
function trickle(res: ServerResponse, everyMs: number): void {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.write('{"a":[');
  const timer = setInterval(() => res.write(' '), everyMs);
  res.on('close', () => clearInterval(timer));
}

async function failure(p: Promise<unknown>): Promise<BoundedFetchError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(BoundedFetchError);
  return err as BoundedFetchError;
}

describe('boundedFetch', () => {
  it('returns the status and the whole body within the limits', async () => {
    const s = await serve((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => res.writeHead(201, { 'content-type': 'text/plain' }).end(`got ${req.method} ${body}`));
    });
    const res = await boundedFetch(s.url, { method: 'POST', body: 'hello', timeoutMs: 5_000, maxBytes: 1024 });
    expect(res.status).toBe(201);
    expect(res.ok).toBe(true);
    expect(Buffer.from(res.body).toString()).toBe('got POST hello');
  });

  it('cuts a trickled body at the deadline while the garbage collector runs, and closes the connection', async () => {
    const gc = exposeGc();
    expect(gc, 'gc() must be exposed').toBeTypeOf('function');
    const collector = setInterval(() => gc!(), 50);
    try {
      const s = await serve((_req, res) => trickle(res, 100));
      const err = await failure(boundedFetch(s.url, { method: 'GET', timeoutMs: 600, maxBytes: 1024 * 1024 }));
      expect(err.kind).toBe('timeout');
      expect(err.phase).toBe('body');
      await waitFor(() => s.closed === 1, { message: 'the trickling connection closed' });
    } finally {
      clearInterval(collector);
    }
  });

  it('times out an answer whose head never comes', async () => {
    const s = await serve(() => undefined);
    const err = await failure(boundedFetch(s.url, { method: 'GET', timeoutMs: 200, maxBytes: 1024 }));
    expect(err).toMatchObject({ kind: 'timeout', phase: 'head' });
    await waitFor(() => s.closed === 1, { message: 'the connection closed' });
  });

  it('refuses a body over the limit, counted or declared, and closes the connection', async () => {
    const endless = await serve((_req, res) => {
      res.writeHead(200);
      const timer = setInterval(() => res.write('x'.repeat(512)), 1);
      res.on('close', () => clearInterval(timer));
    });
    expect(await failure(boundedFetch(endless.url, { method: 'GET', timeoutMs: 5_000, maxBytes: 4096 }))).toMatchObject({ kind: 'too_large', phase: 'body' });
    await waitFor(() => endless.closed === 1, { message: 'the endless connection closed' });

    const declared = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': '1000000' });
      res.write('x');
    });
    const err = await failure(boundedFetch(declared.url, { method: 'GET', timeoutMs: 5_000, maxBytes: 4096 }));
    expect(err.kind).toBe('too_large');
    expect(err.message).toContain('1000000 bytes');
  });

  it("ends at once when the caller's signal aborts, also through a Deadline's parent", async () => {
    const s = await serve((_req, res) => trickle(res, 100));
    const stop = new AbortController();
    const deadline = new Deadline(60_000, stop.signal);
    const pending = boundedFetch(s.url, { method: 'GET', timeoutMs: 60_000, maxBytes: 1024, signal: deadline.signal });
    await waitFor(() => s.requests === 1, { message: 'the request to arrive' });
    stop.abort();
    expect(await failure(pending)).toMatchObject({ kind: 'cancelled' });
    expect(deadline.expired).toBe(false);
    deadline.dispose();
    await waitFor(() => s.closed === 1, { message: 'the connection closed' });
  });

  it('with discardBody, resolves on the head and closes the connection instead of reading a trickle', async () => {
    const s = await serve((_req, res) => trickle(res, 100));
    const res = await boundedFetch(s.url, { method: 'POST', body: '{}', timeoutMs: 60_000, maxBytes: 0, discardBody: true });
    expect(res.status).toBe(200);
    expect(res.body.length).toBe(0);
    await waitFor(() => s.closed === 1, { message: 'the connection closed' });
  });

  it('fails as a network error for a refused connection and an unsupported protocol', async () => {
    const s = await serve(() => undefined);
    const url = s.url;
    const t = servers.pop()!;
    t.server.closeAllConnections();
    await new Promise<void>((resolve) => t.server.close(() => resolve()));
    expect(await failure(boundedFetch(url, { method: 'GET', timeoutMs: 5_000, maxBytes: 1024 }))).toMatchObject({ kind: 'network', phase: 'head', code: 'ECONNREFUSED' });
    expect(await failure(boundedFetch('ftp://127.0.0.1/x', { method: 'GET', timeoutMs: 5_000, maxBytes: 1024 }))).toMatchObject({ kind: 'network' });
  });
});
