/** `jointban start`: run a node until SIGTERM or SIGINT, then shut it down gracefully. */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CONFIG_FILE_NAME, loadConfig } from '../config/load.js';
import { initDataDir } from '../init.js';
import { createNode } from '../node.js';
import { stopOnSignal } from './signals.js';

export function registerStartCommand(program: Command): void {
  program
    .command('start')
    .description('run the node')
    .requiredOption('--data-dir <dir>', 'the data directory created by `jointban init`')
    .option('--init-if-missing', 'initialise the data directory (member "local") if it does not exist yet')
    .option('--member <id>', 'member id used with --init-if-missing', 'local')
    .action(async (opts: { dataDir: string; initIfMissing?: boolean; member: string }) => {
      const dataDir = resolve(opts.dataDir);
      let firstAdminKey: string | undefined;
      if (opts.initIfMissing && !existsSync(join(dataDir, CONFIG_FILE_NAME))) {
        firstAdminKey = (await initDataDir({ dataDir, member: opts.member })).adminKey;
      }
      const node = await createNode(loadConfig(dataDir));
      const url = await node.listen();
      process.stdout.write(`jointban node "${node.config.member}" listening on ${url}\n`);
      if (firstAdminKey) {
        process.stdout.write(`data directory created at ${dataDir}\nfirst admin API key (shown once, stored hashed): ${firstAdminKey}\n`);
      }
      await stopOnSignal((signal) => node.logger.info({ signal }, 'shutting down')).received;
      await node.stop();
    });
}
