/** `jointban check`: the same decision as POST /v1/check, from the command line. */
import type { Command } from 'commander';
import { AppError } from '../errors.js';
import type { IdentifierType } from '../identifiers/types.js';
import { createLogger } from '../logging.js';
import { createNode } from '../node.js';
import { PURPOSES, type Purpose } from '../policy/index.js';
import { configFor, printJson } from './options.js';

const FLAGS: [string, IdentifierType][] = [
  ['phone', 'phone'],
  ['email', 'email'],
  ['nationalId', 'national_id'],
  ['deviceId', 'device_id'],
  ['paymentAccount', 'payment_account'],
];

export function registerCheckCommand(program: Command): void {
  program
    .command('check')
    .description('check identifiers against the listings this node holds and print the decision as JSON')
    .requiredOption('--data-dir <dir>', 'the data directory')
    .option('--phone <p>')
    .option('--email <e>')
    .option('--national-id <n>')
    .option('--device-id <d>')
    .option('--payment-account <a>', 'provider:account')
    .option('--purpose <purpose>', 'registration or monetization', 'registration')
    .action(async (opts: Record<string, string | undefined>) => {
      if (!(PURPOSES as readonly string[]).includes(opts.purpose ?? '')) throw new AppError('invalid_input', `--purpose: must be one of ${PURPOSES.join(', ')}`);
      const identifiers = FLAGS.flatMap(([flag, type]) => (opts[flag] !== undefined ? [{ type, value: opts[flag] }] : []));
      if (identifiers.length === 0) throw new AppError('invalid_input', 'give at least one identifier (--phone, --email, --national-id, --device-id, --payment-account)');
      // The decision is the only thing on stdout; the node's own logs are not wanted here.
      const node = await createNode(configFor(opts.dataDir ?? ''), { logger: createLogger('silent') });
      try {
        printJson(await node.checks.check({ identifiers, purpose: opts.purpose as Purpose }));
      } finally {
        await node.stop();
      }
    });
}
