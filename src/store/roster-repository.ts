/**
 * The rosters a node has accepted (`rosters`: version → the signed note as received). The latest
 * one is what a restart trusts and what the offline commands decide by; it is verified again each
 * time it is read, so a database edited since cannot slip another roster in. The one place that
 * loads and re-verifies it: the roster holder and every command read it through `latestVerified`.
 */
import type { Kysely } from 'kysely';
import type { NoteVerifier } from '../log/note.js';
import { openRoster, type Roster } from '../roster/index.js';
import type { Database } from './tables.js';

/** The latest stored roster, re-verified: each caller words the outcome its own way. */
export type LatestRoster =
  /** The database holds no roster. */
  | { status: 'none' }
  | { status: 'verified'; version: number; note: string; roster: Roster }
  /** A stored roster that does not verify against the trust root given (or none was given). */
  | { status: 'unverified'; version: number; error: string | undefined };

export class RosterRepository {
  constructor(private readonly db: Kysely<Database>) {}

  /** The note of the highest version held, as stored. */
  async latestNote(): Promise<{ version: number; note: string } | undefined> {
    const row = await this.db.selectFrom('rosters').select(['version', 'note']).orderBy('version', 'desc').limit(1).executeTakeFirst();
    return row === undefined ? undefined : { version: Number(row.version), note: row.note };
  }

  /**
   * The latest stored roster, verified against the trust root `trustRoot` returns (undefined: none
   * configured, so unverified). Asked for only once a roster is found.
   */
  async latestVerified(trustRootOf: () => NoteVerifier | undefined): Promise<LatestRoster> {
    const row = await this.latestNote();
    if (row === undefined) return { status: 'none' };
    const trustRoot = trustRootOf();
    if (trustRoot === undefined) return { status: 'unverified', version: row.version, error: undefined };
    const opened = openRoster(row.note, trustRoot);
    if (!opened.ok) return { status: 'unverified', version: row.version, error: opened.error };
    return { status: 'verified', version: row.version, note: row.note, roster: opened.roster };
  }

  /** Records an accepted roster; a version already held is left as it is (the first note wins). */
  async add(version: number, note: string, acceptedAt: string): Promise<void> {
    await this.db
      .insertInto('rosters')
      .values({ version, note, accepted_at: acceptedAt })
      .onConflict((oc) => oc.column('version').doNothing())
      .execute();
  }
}
