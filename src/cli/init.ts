/** `jointban init`: create a node's data directory. */
import type { Command } from 'commander';
import { toHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import { initDataDir } from '../init.js';
import { parsePort, printJson } from './options.js';

export function registerInitCommand(program: Command): void {
  program
    .command('init')
    .description('create a data directory: config file, Ed25519 signing key, database, and a first admin API key')
    .requiredOption('--data-dir <dir>', 'where the node keeps its config, key and database')
    .requiredOption('--member <id>', "this platform's member id in the federation roster")
    .option('--port <n>', 'HTTP port', parsePort, 7300)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--role <role>', 'member or association', 'member')
    .option('--database-url <url>', 'keep the data in PostgreSQL (postgres://user@host:5432/database) instead of a SQLite file; JOINTBAN_DATABASE_URL can hold the password instead')
    .action(async (opts: { dataDir: string; member: string; port: number; host: string; role: string; databaseUrl?: string }) => {
      if (opts.role !== 'member' && opts.role !== 'association') throw new AppError('invalid_input', '--role: must be member or association');
      const result = await initDataDir({
        dataDir: opts.dataDir,
        member: opts.member,
        port: opts.port,
        host: opts.host,
        role: opts.role,
        ...(opts.databaseUrl !== undefined ? { extra: { database: { driver: 'postgres', url: opts.databaseUrl } } } : {}),
      });
      printJson({
        member: result.config.member,
        dataDir: result.config.dataDir,
        publicKey: toHex(result.publicKey),
        adminApiKey: result.adminKey,
        note: 'The admin API key is shown only now; it is stored hashed.',
      });
    });
}
