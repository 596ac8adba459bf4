/** Editing the token epochs of a node's config file, as an operator does during a rotation (docs/OPERATIONS.md, "Epoch secrets"). */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_FILE_NAME } from '../../src/config/load.js';

export interface EpochConfig {
  epoch: number;
  /** The secret, 64 lower-case hex characters. */
  secret: string;
}

/** Rewrites `tokens.epochs` of the config in `dataDir`; the node reads it at its next start. */
export function editEpochs(dataDir: string, edit: (epochs: EpochConfig[]) => EpochConfig[]): void {
  const file = join(dataDir, CONFIG_FILE_NAME);
  const config = JSON.parse(readFileSync(file, 'utf8')) as { tokens: { epochs: EpochConfig[] } };
  config.tokens.epochs = edit(config.tokens.epochs);
  writeFileSync(file, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}
