/** `jointban apikey create|list|revoke`: manage the API keys platform services use. */
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import { describeScopes, SCOPES, type ApiKeyService, type Scope } from '../service/api-keys.js';
import { configWithoutSecrets, printJson, withContext } from './options.js';

function withKeys<T>(dataDir: string, fn: (keys: ApiKeyService) => Promise<T>): Promise<T> {
  return withContext(configWithoutSecrets(dataDir), (context) => fn(context.apiKeys()));
}

export function registerApiKeyCommands(program: Command): void {
  const apikey = program.command('apikey').description('manage API keys');
  apikey
    .command('create')
    .description('create an API key and print it once')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .requiredOption('--scope <scope>', `one of ${SCOPES.join(', ')}: ${describeScopes()}; auditor reads audit reports only`)
    .option('--name <name>', 'what the key is for', 'unnamed')
    .action(async (opts: { dataDir: string; scope: string; name: string }) => {
      if (!(SCOPES as readonly string[]).includes(opts.scope)) throw new AppError('invalid_input', `--scope: must be one of ${SCOPES.join(', ')}`);
      if (opts.name.length > 100) throw new AppError('invalid_input', '--name: at most 100 characters');
      const created = await withKeys(opts.dataDir, (keys) => keys.create(opts.scope as Scope, opts.name));
      printJson({ ...created, note: 'The key is shown only now; it is stored hashed.' });
    });
  apikey
    .command('list')
    .description('list API keys (ids, names, scopes; never the keys)')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .action(async (opts: { dataDir: string }) => printJson(await withKeys(opts.dataDir, (keys) => keys.list())));
  apikey
    .command('revoke')
    .description('revoke an API key by id')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .argument('<id>', 'the key id (the part after "jb_", as shown by list)')
    .action(async (id: string, opts: { dataDir: string }) => {
      await withKeys(opts.dataDir, (keys) => keys.revoke(id));
      printJson({ revoked: id });
    });
}
