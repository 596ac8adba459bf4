/**
 * A whole federation on loopback: an association node and N platform nodes, each with its own data
 * directory, key and database (a SQLite file, or with `databaseUrl` a PostgreSQL database of its
 * own on that server, `<database>_<member>`, dropped when the federation stops), one shared token
 * epoch, and a roster signed by the association.
 * `jointban demo` runs one for people to try; the integration tests run the same thing, so what
 * the README shows is what is tested.
 */
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { loadConfig, type Env } from '../config/load.js';
import type { ConfigFile } from '../config/schema.js';
import { generateEd25519KeyPair, randomBytes, type Ed25519KeyPair } from '../crypto/index.js';
import { toBase64 } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { initDataDir } from '../init.js';
import { createScratchDatabases } from '../store/database.js';
import { createNode, type JointbanNode } from '../node.js';
import { addMember, createDraft, rosterFromDraft, signRoster, trustRootVerifierKey, type RosterDraft } from '../roster/index.js';

export const DEMO_FEDERATION = 'demo.jointban.example';
const MEMBER_NAMES = ['alpha', 'beta', 'gamma', 'delta', 'epsilon', 'zeta', 'eta', 'theta', 'iota', 'kappa'];

export interface LocalNode {
  member: string;
  dataDir: string;
  url: string;
  adminKey: string;
  node: JointbanNode;
}

export interface LocalFederation {
  dir: string;
  association: LocalNode;
  nodes: LocalNode[];
  rosterFile: string;
  /** Re-signs the roster after an edit and makes every running node pick it up. */
  updateRoster(edit: (draft: RosterDraft, now: string) => RosterDraft): Promise<void>;
  /** Stops one node (its data stays) so tests can take it offline. */
  stopNode(member: string): Promise<void>;
  /** Starts a stopped node again on the same port and data. */
  startNode(member: string): Promise<LocalNode>;
  stop(): Promise<void>;
}

export interface LocalFederationOptions {
  dir: string;
  nodes: number;
  /** Ports basePort, basePort+1, …; free ports are picked when absent. */
  basePort?: number | undefined;
  /** Config keys for every node (the tests shorten intervals). */
  extra?: Partial<ConfigFile> | undefined;
  logger?: (member: string) => Logger;
  /** The environment the nodes' configs are loaded with (none by default: the files hold everything). */
  env?: Env | undefined;
  /**
   * Keep each node's data on this PostgreSQL server, in a database `<the URL's database>_<member>`
   * that the URL's role creates now and drops when the federation stops.
   */
  databaseUrl?: string | undefined;
  /**
   * Where each node keeps its data: the `database` config section for the member (a database of
   * its own on a PostgreSQL server); a SQLite file in its data directory when absent.
   */
  database?: ((member: string) => Promise<ConfigFile['database']>) | undefined;
}

export function demoMemberName(i: number): string {
  return MEMBER_NAMES[i] ?? `member-${i + 1}`;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

function unwrap<T extends { ok: true } | { ok: false; error: string }>(result: T): Extract<T, { ok: true }> {
  if (!result.ok) throw new AppError('internal', (result as { error: string }).error);
  return result as Extract<T, { ok: true }>;
}

/** The data directories of a local federation, written and not started. */
export interface LocalFederationDirs {
  /** The association first, then the platform members. */
  members: string[];
  dataDirs: string[];
  adminKeys: string[];
  rosterFile: string;
  /** Re-signs the roster file after an edit (the nodes pick it up on their next refresh). */
  editRoster(edit: (draft: RosterDraft, now: string) => RosterDraft): void;
  /** Drops the PostgreSQL databases made for the members (nothing on SQLite). */
  dropDatabases(): Promise<void>;
}

/**
 * Writes the data directories of an association and `options.nodes` members (keys, one shared
 * epoch, the signed roster) without starting any node, so each can run in its own process (the
 * bulk benchmark does).
 */
export async function initLocalFederation(options: Omit<LocalFederationOptions, 'logger'>): Promise<LocalFederationDirs> {
  if (!Number.isInteger(options.nodes) || options.nodes < 1 || options.nodes > 50) throw new AppError('invalid_input', '--nodes: must be between 1 and 50');
  const count = options.nodes + 1;
  const ports: number[] = [];
  for (let i = 0; i < count; i++) ports.push(options.basePort !== undefined ? options.basePort + i : await freePort());
  const names = ['association', ...Array.from({ length: options.nodes }, (_, i) => demoMemberName(i))];
  const keys: Ed25519KeyPair[] = names.map(() => generateEd25519KeyPair());
  const epochSecret = randomBytes(32);
  const endpoint = (i: number) => `http://127.0.0.1:${ports[i]}`;
  const rosterFile = join(options.dir, 'association', 'roster.note');
  const trustRoot = trustRootVerifierKey(DEMO_FEDERATION, keys[0]!.publicKey);

  const now = new Date().toISOString();
  let draft = unwrap(createDraft(DEMO_FEDERATION, { id: names[0]!, name: 'The association', publicKey: toBase64(keys[0]!.publicKey), endpoint: endpoint(0) }, now)).draft;
  for (let i = 1; i < count; i++) {
    draft = unwrap(addMember(draft, { id: names[i]!, name: `Platform ${names[i]}`, publicKey: toBase64(keys[i]!.publicKey), endpoint: endpoint(i) }, now)).draft;
  }
  let version = 1;
  const writeRoster = (d: RosterDraft) => {
    const roster = unwrap(rosterFromDraft(d, version, new Date().toISOString())).roster;
    writeFileSync(rosterFile, signRoster(roster, keys[0]!.secretKey));
  };

  const scratch = options.databaseUrl !== undefined ? await createScratchDatabases(options.databaseUrl, names) : undefined;
  const dropDatabases = async () => {
    await scratch?.drop();
  };
  const adminKeys: string[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const isAssociation = i === 0;
      const database = scratch ? { database: { driver: 'postgres' as const, url: scratch.urls.get(names[i]!)! } } : options.database ? { database: await options.database(names[i]!) } : {};
      const init = await initDataDir({
        dataDir: join(options.dir, names[i]!),
        member: names[i]!,
        role: isAssociation ? 'association' : 'member',
        federation: DEMO_FEDERATION,
        host: '127.0.0.1',
        port: ports[i]!,
        epochs: [{ epoch: 1, secret: epochSecret }],
        keyPair: keys[i],
        extra: {
          ...options.extra,
          ...database,
          roster: isAssociation ? { trustRoot, file: 'roster.note', refreshIntervalMs: 2_000 } : { trustRoot, url: `${endpoint(0)}/v1/roster`, refreshIntervalMs: 2_000 },
        },
      });
      adminKeys.push(init.adminKey);
      if (isAssociation) writeRoster(draft);
    }
  } catch (err) {
    await dropDatabases().catch(() => undefined);
    throw err;
  }

  return {
    members: names,
    dataDirs: names.map((n) => join(options.dir, n)),
    adminKeys,
    rosterFile,
    dropDatabases,
    editRoster(edit) {
      draft = edit(draft, new Date().toISOString());
      version += 1;
      writeRoster(draft);
    },
  };
}

export async function startLocalFederation(options: LocalFederationOptions): Promise<LocalFederation> {
  const dirs = await initLocalFederation(options);
  const names = dirs.members;
  const adminKeys = dirs.adminKeys;
  const count = names.length;
  const rosterFile = dirs.rosterFile;
  const running = new Map<string, LocalNode>();
  const start = async (i: number): Promise<LocalNode> => {
    const member = names[i]!;
    const dataDir = join(options.dir, member);
    const node = await createNode(loadConfig(dataDir, options.env ?? {}), options.logger ? { logger: options.logger(member) } : {});
    const url = await node.listen();
    const local = { member, dataDir, url, adminKey: adminKeys[i]!, node };
    running.set(member, local);
    return local;
  };
  const stopAll = async () => {
    for (const n of [...running.values()].reverse()) await n.node.stop();
    running.clear();
  };
  // The association first: the others fetch the roster from it as they start.
  const all: LocalNode[] = [];
  try {
    for (let i = 0; i < count; i++) all.push(await start(i));
  } catch (err) {
    await stopAll().catch(() => undefined);
    await dirs.dropDatabases().catch(() => undefined);
    throw err;
  }

  return {
    dir: options.dir,
    association: all[0]!,
    nodes: all.slice(1),
    rosterFile,
    async updateRoster(edit) {
      dirs.editRoster(edit);
      for (const n of running.values()) await n.node.federation.roster.refresh();
    },
    async stopNode(member) {
      const n = running.get(member);
      if (!n) return;
      running.delete(member);
      await n.node.stop();
    },
    async startNode(member) {
      const i = names.indexOf(member);
      if (i < 0) throw new AppError('not_found', `no member ${member}`);
      return start(i);
    },
    async stop() {
      await stopAll();
      await dirs.dropDatabases();
    },
  };
}
