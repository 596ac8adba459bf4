/**
 * The jointban node child: initialises a data directory, seeds it with synthetic listings through
 * ListingService.createMany, creates a check API key, listens on 127.0.0.1 and an ephemeral port
 * and prints `{"url","key",…}` when ready. Then it answers commands on stdin (child-protocol.ts):
 * `cpu`, `inproc` (in-process figures), `profile-start` / `profile-stop` (a V8 CPU profile of
 * whatever load runs in between) and `stop`.
 *
 * The node runs as `npm start` would, with one exception: the check rate limit per API key is
 * raised out of the way (see below). Its log level is the default (info), access logs included,
 * written to node.log in the data directory instead of stdout, which carries this protocol.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { loadConfig } from '../../src/config/load.js';
import { initDataDir } from '../../src/init.js';
import { createLogger } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import { cpuMicros, profileCommand, ready, serveCommands, type Command } from './child-protocol.js';
import { measureInProcess, type InProcessOptions } from './in-process.js';
import { checkBodies, listingInput } from './synthetic.js';

export interface NodeChildArgs {
  dataDir: string;
  listings: number;
  batch: number;
}

export interface NodeChildReady {
  url: string;
  key: string;
  pid: number;
  listings: number;
  seedMs: number;
  databaseBytes: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as NodeChildArgs;

// The default check allowance (50 identifiers per second per key) would measure the limit, not the
// node: the bench key gets one far above what the node can serve, so the limiter still runs.
await initDataDir({
  dataDir: args.dataDir,
  member: 'bench',
  host: '127.0.0.1',
  port: 0,
  extra: { limits: { check: { ratePerSecond: 1_000_000, burst: 1_000_000 } } },
});
const config = loadConfig(args.dataDir, {});
const node = await createNode(config, { logger: createLogger(config.logLevel, pino.destination({ dest: join(args.dataDir, 'node.log') })) });

const seedStarted = performance.now();
const now = new Date();
for (let from = 0; from < args.listings; from += args.batch) {
  const count = Math.min(args.batch, args.listings - from);
  await node.listings.createMany(Array.from({ length: count }, (_, i) => listingInput(from + i, now)));
  if ((from + count) % Math.max(args.batch, Math.floor(args.listings / 4)) === 0) process.stderr.write(`  seeded ${from + count} listings\n`);
}
const seedMs = performance.now() - seedStarted;

const key = (await node.keys.create('check', 'bench')).key;
const url = await node.listen();
const fileSize = (file: string) => {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
};
const databaseBytes = fileSize(config.databaseFile) + fileSize(`${config.databaseFile}-wal`);
ready({ url, key, pid: process.pid, listings: args.listings, seedMs, databaseBytes } satisfies NodeChildReady);

function int(command: Command, name: string): number {
  const value = command[name];
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0) throw new Error(`${command.cmd}: ${name} must be a whole number`);
  return value;
}

serveCommands(async (command) => {
  if ((await profileCommand(command)).handled) return null;
  switch (command.cmd) {
    case 'cpu':
      return cpuMicros();
    case 'inproc': {
      const options: InProcessOptions = { rounds: int(command, 'rounds'), warmupRounds: int(command, 'warmupRounds'), batchUs: int(command, 'batchUs') };
      return measureInProcess(node, key, checkBodies(args.listings, int(command, 'pool'), int(command, 'seed')), options);
    }
    case 'stop':
      await node.stop();
      return null;
    default:
      throw new Error(`unknown command ${command.cmd}`);
  }
});
