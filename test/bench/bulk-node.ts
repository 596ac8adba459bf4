/**
 * A federation member as a benchmark child (bulk-bench.ts): starts the node of a data directory
 * written by `initLocalFederation`, listens on its configured port and answers commands on stdin
 * (child-protocol.ts):
 *
 * - `seed {count, batch, sampleEvery}`: appends `count` listings to the node's own log through
 *   `ListingService.appendPrepared`. Every `sampleEvery`-th is synthetic person k tokenised for
 *   real (so a check can find it); the others carry random tokens, which costs the log and the
 *   projection the same without spending minutes in phone-number parsing.
 * - `wait-log {origin, size, timeoutMs}`: polls until the node holds `size` entries of `origin`.
 * - `sample {origin, count, sampleEvery}`: checks the sampled persons and counts the listings held.
 * - `create-steady {from, count, ratePerSecond}`: lists persons from..from+count−1 one by one at a
 *   steady rate, returning the time each was acknowledged (durable).
 * - `watch {from, count, timeoutMs}`: checks the oldest person not yet seen every few milliseconds
 *   and returns the time each was first seen denied.
 * - `check-key`: a new API key of scope `check`, for checks sent over HTTP by the parent.
 * - `cpu`, `profile-start`, `profile-stop`, `stop`.
 */
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { randomBytes } from '../../src/crypto/index.js';
import { toHex } from '../../src/crypto/encoding.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import type { PreparedListing } from '../../src/service/listings.js';
import { LogReader } from '../../src/store/log-repository.js';
import { cpuMicros, profileCommand, ready, serveCommands, type Command } from './child-protocol.js';
import { identifiersOf, listingInput, person } from './synthetic.js';

export interface BulkNodeArgs {
  dataDir: string;
}

export interface BulkNodeReady {
  member: string;
  url: string;
  pid: number;
  /** Wall-clock ms when the node was listening (its sync loops start then). */
  startedAt: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as BulkNodeArgs;
const config = loadConfig(args.dataDir, {});
const node = await createNode(config, { logger: createLogger(config.logLevel, pino.destination({ dest: join(args.dataDir, 'node.log') })) });
const url = await node.listen();
const startedAt = Date.now();
ready({ member: config.member, url, pid: process.pid, startedAt } satisfies BulkNodeReady);

function num(command: Command, name: string): number {
  const value = command[name];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw new Error(`${command.cmd}: ${name} must be a number ≥ 0`);
  return value;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

async function seed(count: number, batch: number, sampleEvery: number): Promise<{ ms: number; size: number }> {
  const now = new Date();
  const started = performance.now();
  const template = node.listings.prepareListing(listingInput(0, now));
  const types = template.entry.tokens.map((t) => t.type);
  for (let from = 0; from < count; from += batch) {
    const items: PreparedListing[] = [];
    for (let k = from; k < Math.min(count, from + batch); k++) {
      if (k % sampleEvery === 0) items.push(node.listings.prepareListing(listingInput(k, now)));
      else items.push({ entry: { ...template.entry, tokens: types.map((type) => ({ type, epoch: 1, token: toHex(randomBytes(16)) })) }, reference: null });
    }
    await node.listings.appendPrepared(items);
  }
  return { ms: performance.now() - started, size: await new LogReader(node.database.db).size(config.member) };
}

async function deny(k: number): Promise<boolean> {
  const result = await node.checks.check({ identifiers: identifiersOf(person(k)), purpose: 'registration' });
  return result.decision === 'deny';
}

serveCommands(async (command) => {
  if ((await profileCommand(command)).handled) return null;
  switch (command.cmd) {
    case 'cpu':
      return cpuMicros();
    case 'seed':
      return seed(num(command, 'count'), num(command, 'batch'), num(command, 'sampleEvery'));
    case 'wait-log': {
      const origin = String(command['origin']);
      const size = num(command, 'size');
      const deadline = Date.now() + num(command, 'timeoutMs');
      const log = new LogReader(node.database.db);
      for (;;) {
        const held = await log.size(origin);
        if (held >= size) return { at: Date.now(), size: held };
        if (Date.now() > deadline) throw new Error(`${config.member} holds ${held} of ${size} entries of ${origin} after the timeout`);
        await sleep(20);
      }
    }
    case 'sample': {
      const count = num(command, 'count');
      const every = num(command, 'sampleEvery');
      let checked = 0;
      let denied = 0;
      for (let k = 0; k < count; k += every) {
        checked++;
        if (await deny(k)) denied++;
      }
      const row = await node.database.db
        .selectFrom('listings')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('origin', '=', String(command['origin']))
        .executeTakeFirstOrThrow();
      return { checked, denied, listings: Number(row.n) };
    }
    case 'create-steady': {
      const from = num(command, 'from');
      const count = num(command, 'count');
      const gapMs = 1000 / num(command, 'ratePerSecond');
      const started = Date.now();
      const acks: number[] = [];
      for (let i = 0; i < count; i++) {
        const due = started + i * gapMs;
        if (due > Date.now()) await sleep(due - Date.now());
        await node.listings.create(listingInput(from + i, new Date()));
        acks.push(Date.now());
      }
      return acks;
    }
    case 'watch': {
      const from = num(command, 'from');
      const count = num(command, 'count');
      const deadline = Date.now() + num(command, 'timeoutMs');
      const seen: number[] = [];
      // Entries arrive in log order, so only the oldest unseen person needs polling; when it shows,
      // the ones after it are tried at once in the same turn.
      while (seen.length < count) {
        if (await deny(from + seen.length)) {
          seen.push(Date.now());
          continue;
        }
        if (Date.now() > deadline) throw new Error(`watch: ${seen.length} of ${count} listings seen before the timeout`);
        await sleep(5);
      }
      return seen;
    }
    case 'check-key':
      return (await node.keys.create('check', 'bench')).key;
    case 'stop':
      await node.stop();
      return null;
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
});
