/**
 * The jointban node child: opens a data directory seeded by seed.ts, creates a check API key,
 * listens on 127.0.0.1 and an ephemeral port and prints `{"url","key",…}` once /readyz answers
 * 200 (the token filter is warm). Then it answers commands on stdin (child-protocol.ts): `cpu`,
 * `inproc` (in-process figures), `profile-start` / `profile-stop` (a V8 CPU profile of whatever
 * load runs in between) and `stop`.
 *
 * The node runs as `npm start` would (the seeder raised the check rate limit of API keys out of the
 * way). Its log level is the default (info), access logs included, written to node.log in the data
 * directory instead of stdout, which carries this protocol. Start-up is timed from the process's
 * time origin (its start) to the first 200 from /readyz; RSS is read right then.
 */
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { createLogger, nodeLogDestination } from '../../src/logging.js';
import { createNode } from '../../src/node.js';
import type { TokenIndexStats } from '../../src/store/token-index.js';
import { cpuMicros, profileCommand, ready, serveCommands, type Command } from './child-protocol.js';
import { measureInProcess, type InProcessOptions } from './in-process.js';
import { checkBodies } from './synthetic.js';

export interface NodeChildArgs {
  dataDir: string;
  listings: number;
}

export interface NodeChildReady {
  url: string;
  key: string;
  pid: number;
  listings: number;
  /** From this process's start to the first 200 from /readyz, in ms. */
  startToReadyMs: number;
  /** Resident set size when ready, in bytes. */
  rssBytes: number;
  heapUsedBytes: number;
  tokenFilter: TokenIndexStats;
}

const args = JSON.parse(process.argv[2] ?? '{}') as NodeChildArgs;

const config = loadConfig(args.dataDir, {});
const node = await createNode(config, { logger: createLogger(config.logLevel, nodeLogDestination(join(args.dataDir, 'node.log'))) });
const url = await node.listen();
for (;;) {
  if ((await fetch(`${url}/readyz`)).status === 200) break;
  await new Promise((resolve) => setTimeout(resolve, 10));
}
const startToReadyMs = performance.now();
const { rss, heapUsed } = process.memoryUsage();
const key = (await node.keys.create('check', 'bench')).key;
ready({ url, key, pid: process.pid, listings: args.listings, startToReadyMs, rssBytes: rss, heapUsedBytes: heapUsed, tokenFilter: node.checkStore.tokens.stats } satisfies NodeChildReady);

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
