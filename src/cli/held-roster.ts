/**
 * The roster a node's database holds, verified again against the data directory's trust root: what
 * the offline commands (verify, restore, keys, own-log) decide by. The node accepted it once; the
 * check here makes sure a database or config edited since cannot slip another one in.
 */
import type { Kysely } from 'kysely';
import type { NodeConfig } from '../config/load.js';
import { AppError } from '../errors.js';
import { parseTrustRootKey } from '../federation/federation.js';
import { openRoster, type Roster } from '../roster/index.js';
import type { Database } from '../store/tables.js';

/** The latest stored roster, verified; undefined when the database holds none. */
export async function heldRoster(config: NodeConfig, db: Kysely<Database>): Promise<Roster | undefined> {
  const row = await db.selectFrom('rosters').select(['version', 'note']).orderBy('version', 'desc').limit(1).executeTakeFirst();
  if (row === undefined) return undefined;
  const trustRoot = parseTrustRootKey(config.roster.trustRoot, config.federation);
  if (trustRoot === undefined) throw new AppError('invalid_input', `${config.configFile}: roster.trustRoot is not set, so the roster this node holds cannot be verified`);
  const opened = openRoster(row.note, trustRoot);
  if (!opened.ok) throw new AppError('invalid_input', `the roster this node holds (version ${Number(row.version)}) does not verify against the trust root: ${opened.error}`);
  return opened.roster;
}
