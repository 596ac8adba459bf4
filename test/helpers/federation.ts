/**
 * A real federation for integration tests: `startLocalFederation` (the code behind `jointban demo`)
 * in a temp directory, with short intervals so data moves in milliseconds, API keys per node, and
 * helpers to list, check, retract, read status, call the federation API as a member and wait for
 * a condition. Every node is a real node on a loopback ephemeral port over its own SQLite file.
 * `stop()` tears everything down and removes the directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ConfigFile } from '../../src/config/schema.js';
import { utf8 } from '../../src/crypto/encoding.js';
import { testDatabaseSection, testEngine, type TestDatabaseSection, type TestEngine } from './engine.js';
import { startLocalFederation, type LocalFederation, type LocalNode } from '../../src/demo/local-federation.js';
import type { FederationStatus } from '../../src/federation/federation.js';
import { signRequest, type SignedRequestHeaders } from '../../src/federation/request-signature.js';
import { createHmacTokenDeriver } from '../../src/identifiers/tokens.js';
import type { RosterDraft } from '../../src/roster/index.js';
import { Tokenizer } from '../../src/service/tokenizer.js';
import type { JointbanNode } from '../../src/node.js';
import { listingBody, type CheckBody, type CreatedListingBody, type Identifier } from './fixtures.js';

export interface WaitForOptions {
  timeoutMs?: number;
  /** Milliseconds between attempts; 0 polls on every turn of the event loop (setImmediate). */
  intervalMs?: number;
  /** What was being waited for, for the failure message. */
  message?: string;
}

/**
 * Polls `fn` until it returns a truthy value (returned) or the time is up (throws, saying what was
 * awaited and the last value or error seen). Tests wait for conditions this way, never for a time.
 */
export async function waitFor<T>(fn: () => T | Promise<T>, options: WaitForOptions = {}): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 15_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  let last: string = 'never evaluated';
  for (;;) {
    try {
      const value = await fn();
      if (value) return value as NonNullable<T>;
      last = `last value: ${JSON.stringify(value)}`;
    } catch (err) {
      last = `last error: ${err instanceof Error ? err.message : String(err)}`;
    }
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${options.message ?? 'a condition'} (${last})`);
    }
    await new Promise<void>((resolve) => (intervalMs === 0 ? setImmediate(resolve) : setTimeout(resolve, intervalMs)));
  }
}

/** The config every federation test starts from: data moves within tens of milliseconds. */
export const FAST_CONFIG: Partial<ConfigFile> = {
  checkpoints: { intervalMs: 50 },
  sync: { pollIntervalMs: 300, backoffBaseMs: 50, backoffMaxMs: 1000, requestTimeoutMs: 5_000 },
  logging: { level: 'silent' },
};

/** A node of the test federation; `node` and `url` always refer to the running instance. */
export interface FedNode {
  readonly member: string;
  readonly dataDir: string;
  readonly adminKey: string;
  readonly writeKey: string;
  readonly checkKey: string;
  /** The running node; throws if the node is stopped. */
  readonly node: JointbanNode;
  readonly url: string;
  readonly running: boolean;
}

export type NodeRef = FedNode | string;

export interface CreateFederationOptions {
  /** Config sections merged over FAST_CONFIG (section by section, one level deep). */
  extra?: Partial<ConfigFile>;
  /** The environment the nodes load their configs with (a test that moves a secret to secretEnv). */
  env?: Record<string, string>;
  /** The engine every node keeps its data in, whatever the run's (a file about one engine's procedure). */
  engine?: TestEngine;
}

export interface SignedFetchOptions {
  /** The member id the request is signed as (the RFC 9421 keyid). */
  keyId: string;
  secretKey: Uint8Array;
  method?: 'GET' | 'POST';
  body?: unknown;
  /** Unix seconds; now by default. */
  created?: number;
  nonce?: string;
  /** The `@authority` signed for, instead of the target's host; null signs the transition profile without it. */
  authority?: string | null;
}

export interface TestFederation {
  readonly dir: string;
  readonly local: LocalFederation;
  readonly association: FedNode;
  /** The platform nodes, in order (alpha, beta, gamma, …). */
  readonly nodes: FedNode[];
  /** Every node, the association first. */
  readonly all: FedNode[];
  get(ref: NodeRef): FedNode;
  /** The nodes currently running. */
  running(): FedNode[];
  /** POST /v1/listings on a node with its write key; fails the test unless 201. */
  list(ref: NodeRef, identifiers: Identifier[], overrides?: Record<string, unknown>): Promise<CreatedListingBody>;
  /** POST /v1/check on a node with its check key; fails the test unless 200. */
  check(ref: NodeRef, identifiers: Identifier[]): Promise<CheckBody>;
  /** POST /v1/listings/:id/retract on the node with its write key; fails the test unless 200. */
  retract(ref: NodeRef, id: string, reason?: string): Promise<Record<string, unknown>>;
  /** GET /v1/federation/status with the node's admin key. */
  status(ref: NodeRef): Promise<FederationStatus>;
  /** Waits until the node's check for `identifiers` gives `decision`. */
  waitForDecision(ref: NodeRef, identifiers: Identifier[], decision: CheckBody['decision'], timeoutMs?: number): Promise<void>;
  /** How many entries of `origin`'s log the node holds. */
  logSize(ref: NodeRef, origin: string): Promise<number>;
  /** Tokens as the federation derives them (its shared epoch secret), for crafting entries. */
  tokens(identifiers: Identifier[]): { type: Identifier['type']; epoch: number; token: string }[];
  /** Headers of a request to `to`'s federation API (`@authority` is its host), signed as some member (RFC 9421 profile), for replay tests. */
  signedHeaders(to: NodeRef, path: string, opts: SignedFetchOptions): SignedRequestHeaders;
  /** fetch() of a node's federation API, signed as some member. */
  signedFetch(ref: NodeRef, path: string, opts: SignedFetchOptions): Promise<Response>;
  /** Signs as the given node's own identity (a real member). */
  asMember(ref: NodeRef): { keyId: string; secretKey: Uint8Array };
  updateRoster(edit: (draft: RosterDraft, now: string) => RosterDraft): Promise<void>;
  stopNode(ref: NodeRef): Promise<void>;
  startNode(ref: NodeRef): Promise<FedNode>;
  /** Stops every node and removes the directory; safe to call twice. */
  stop(): Promise<void>;
}

function mergeConfig(base: Partial<ConfigFile>, extra: Partial<ConfigFile> | undefined): Partial<ConfigFile> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(extra ?? {})) {
    const prior = out[key];
    out[key] =
      typeof value === 'object' && value !== null && !Array.isArray(value) && typeof prior === 'object' && prior !== null
        ? { ...(prior as Record<string, unknown>), ...(value as Record<string, unknown>) }
        : value;
  }
  return out as Partial<ConfigFile>;
}

async function expectStatus(res: Response, status: number, what: string): Promise<unknown> {
  const text = await res.text();
  if (res.status !== status) throw new Error(`${what}: expected HTTP ${status}, got ${res.status}: ${text}`);
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** Starts an association and `n` platform nodes on loopback in a fresh temp directory. */
export async function createFederation(n: number, options: CreateFederationOptions = {}): Promise<TestFederation> {
  const dir = mkdtempSync(join(tmpdir(), 'jointban-fed-'));
  // On a PostgreSQL run, each node gets a database of its own (test/helpers/engine.ts).
  const databases: TestDatabaseSection[] = [];
  const engine = options.engine ?? testEngine();
  const database =
    engine === 'postgres'
      ? async () => {
          const section = await testDatabaseSection(engine);
          databases.push(section);
          return section.database!;
        }
      : undefined;
  const dropDatabases = async () => {
    for (const d of databases.splice(0)) await d.drop();
  };
  let local: LocalFederation;
  try {
    local = await startLocalFederation({ dir, nodes: n, extra: mergeConfig(FAST_CONFIG, options.extra), env: options.env, database });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    await dropDatabases();
    throw err;
  }

  const current = new Map<string, LocalNode>();
  const makeHandle = async (ln: LocalNode): Promise<FedNode> => {
    current.set(ln.member, ln);
    const writeKey = (await ln.node.keys.create('write', 'federation test write')).key;
    const checkKey = (await ln.node.keys.create('check', 'federation test check')).key;
    const member = ln.member;
    return {
      member,
      dataDir: ln.dataDir,
      adminKey: ln.adminKey,
      writeKey,
      checkKey,
      get running() {
        return current.has(member);
      },
      get node() {
        const running = current.get(member);
        if (!running) throw new Error(`node ${member} is stopped`);
        return running.node;
      },
      get url() {
        const running = current.get(member);
        if (!running) throw new Error(`node ${member} is stopped`);
        return running.url;
      },
    };
  };
  const association = await makeHandle(local.association);
  const nodes: FedNode[] = [];
  for (const ln of local.nodes) nodes.push(await makeHandle(ln));
  const all = [association, ...nodes];
  const byMember = new Map(all.map((h) => [h.member, h]));
  const tokenizer = new Tokenizer(createHmacTokenDeriver(local.association.node.config.epochs), local.association.node.config.defaultRegion);

  const get = (ref: NodeRef): FedNode => {
    if (typeof ref !== 'string') return ref;
    const h = byMember.get(ref);
    if (!h) throw new Error(`no node ${ref} in this federation`);
    return h;
  };
  const call = (ref: NodeRef, method: string, path: string, key: string, body?: unknown) =>
    fetch(`${get(ref).url}${path}`, {
      method,
      headers: { authorization: `Bearer ${key}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
  const signedHeaders = (to: NodeRef, path: string, opts: SignedFetchOptions): SignedRequestHeaders => {
    const body = opts.body === undefined ? new Uint8Array(0) : utf8(JSON.stringify(opts.body));
    return signRequest({
      method: opts.method ?? 'GET',
      path,
      authority: opts.authority !== undefined ? opts.authority : new URL(get(to).url).host,
      body,
      keyId: opts.keyId,
      secretKey: opts.secretKey,
      created: opts.created ?? Math.floor(Date.now() / 1000),
      ...(opts.nonce !== undefined ? { nonce: opts.nonce } : {}),
    });
  };
  let stopped = false;

  const fed: TestFederation = {
    dir,
    local,
    association,
    nodes,
    all,
    get,
    running: () => all.filter((h) => h.running),
    async list(ref, identifiers, overrides = {}) {
      const res = await call(ref, 'POST', '/v1/listings', get(ref).writeKey, listingBody({ identifiers, ...overrides }));
      return (await expectStatus(res, 201, `list on ${get(ref).member}`)) as CreatedListingBody;
    },
    async check(ref, identifiers) {
      const res = await call(ref, 'POST', '/v1/check', get(ref).checkKey, { identifiers });
      return (await expectStatus(res, 200, `check on ${get(ref).member}`)) as CheckBody;
    },
    async retract(ref, id, reason = 'appeal_upheld') {
      const res = await call(ref, 'POST', `/v1/listings/${encodeURIComponent(id)}/retract`, get(ref).writeKey, { reason });
      return (await expectStatus(res, 200, `retract ${id} on ${get(ref).member}`)) as Record<string, unknown>;
    },
    async status(ref) {
      const res = await call(ref, 'GET', '/v1/federation/status', get(ref).adminKey);
      return (await expectStatus(res, 200, `status of ${get(ref).member}`)) as FederationStatus;
    },
    async waitForDecision(ref, identifiers, decision, timeoutMs = 15_000) {
      await waitFor(async () => (await fed.check(ref, identifiers)).decision === decision, {
        timeoutMs,
        message: `${get(ref).member} to answer ${decision}`,
      });
    },
    async logSize(ref, origin) {
      const row = await get(ref)
        .node.database.db.selectFrom('log_entries')
        .select((eb) => eb.fn.max('seq').as('size'))
        .where('origin', '=', origin)
        .executeTakeFirst();
      return Number(row?.size ?? 0);
    },
    tokens: (identifiers) => tokenizer.tokensFor(identifiers).map((t) => ({ type: t.type, epoch: t.epoch, token: t.hex })),
    signedHeaders,
    signedFetch(ref, path, opts) {
      const method = opts.method ?? 'GET';
      const headers: Record<string, string> = { ...signedHeaders(ref, path, opts) };
      if (opts.body !== undefined) headers['content-type'] = 'application/json';
      return fetch(`${get(ref).url}${path}`, { method, headers, ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}) });
    },
    asMember(ref) {
      const h = get(ref);
      return { keyId: h.member, secretKey: h.node.identity.secretKey };
    },
    updateRoster: (edit) => local.updateRoster(edit),
    async stopNode(ref) {
      const member = get(ref).member;
      current.delete(member);
      await local.stopNode(member);
    },
    async startNode(ref) {
      const h = get(ref);
      if (current.has(h.member)) throw new Error(`node ${h.member} is already running`);
      current.set(h.member, await local.startNode(h.member));
      return h;
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      current.clear();
      try {
        await local.stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
        await dropDatabases();
      }
    },
  };
  return fed;
}
