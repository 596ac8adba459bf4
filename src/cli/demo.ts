/**
 * `jointban demo`: an association node and N platform nodes, fully federated on loopback in a temp
 * directory, until SIGINT or SIGTERM; then everything is stopped and the directory removed. With
 * `--database-url`, each node keeps its data in a PostgreSQL database of its own on that server
 * (`<the URL's database>_<member>`), created by the URL's role and dropped at the stop.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { startLocalFederation } from '../demo/local-federation.js';
import { createLogger } from '../logging.js';
import { parsePort, parsePositiveInt } from './options.js';
import { stopOnSignal } from './signals.js';

export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run an association node and N platform nodes, federated on loopback, until interrupted')
    .option('--nodes <n>', 'number of platform nodes', parsePositiveInt, 2)
    .option('--base-port <port>', 'first port (association); the platform nodes take the next ones', parsePort)
    .option('--json', 'print one JSON line with every node URL and API key once all are ready')
    .option('--database-url <url>', 'keep each node in a database <database>_<member> of this PostgreSQL server, created now and dropped at the stop (the role needs CREATEDB)')
    .action(async (opts: { nodes: number; basePort?: number; json?: boolean; databaseUrl?: string }) => {
      const dir = mkdtempSync(join(tmpdir(), 'jointban-demo-'));
      // A refusal (a role that may not create databases, a port in use) leaves nothing behind.
      const federation = await startLocalFederation({
        dir,
        databaseUrl: opts.databaseUrl,
        nodes: opts.nodes,
        basePort: opts.basePort,
        // The demo runs as the issue asks a real federation to: members act only on witnessed checkpoints.
        extra: { checkpoints: { intervalMs: 250 }, sync: { pollIntervalMs: 2_000, requireCosignature: true }, logging: { level: 'warn' } },
        logger: (member) => createLogger('warn').child({ member }),
      }).catch((err: unknown) => {
        rmSync(dir, { recursive: true, force: true });
        throw err;
      });
      const nodes = [];
      for (const n of federation.nodes) {
        const key = async (scope: 'check' | 'write' | 'admin') => (await n.node.keys.create(scope, `demo ${scope}`)).key;
        nodes.push({ member: n.member, url: n.url, apiKeys: { check: await key('check'), write: await key('write'), admin: n.adminKey } });
      }
      const summary = { association: { member: federation.association.member, url: federation.association.url, apiKey: federation.association.adminKey }, nodes };
      if (opts.json) {
        process.stdout.write(`${JSON.stringify(summary)}\n`);
      } else {
        process.stdout.write(`jointban demo federation in ${dir}\n`);
        process.stdout.write(`  association ${summary.association.url}  admin key ${summary.association.apiKey}\n`);
        for (const n of nodes) process.stdout.write(`  ${n.member.padEnd(11)} ${n.url}  write key ${n.apiKeys.write}  check key ${n.apiKeys.check}\n`);
        process.stdout.write('Press Ctrl-C to stop and remove everything.\n');
      }
      await stopOnSignal().received;
      await federation.stop();
      rmSync(dir, { recursive: true, force: true });
    });
}
