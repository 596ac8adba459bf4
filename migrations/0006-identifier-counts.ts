/**
 * 0006: the audit counts identifiers tested, not requests (docs/SECURITY.md, "Limits"): one check
 * may carry 16 identifiers and one watch enrolment thousands, so a request count hides
 * enumeration. `check_counts.identifiers` holds them, per day, purpose (or `watch`) and API key.
 * Rows written before this migration counted requests only; each tested at least one identifier,
 * so they start with their request count, a lower bound.
 * Frozen: never edit a migration that has shipped; add a new one.
 */
import type { Kysely } from 'kysely';

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type AnyDb = Kysely<any>;

export async function up(db: AnyDb): Promise<void> {
  await db.schema
    .alterTable('check_counts')
    .addColumn('identifiers', 'bigint', (c) => c.notNull().defaultTo(0))
    .execute();
  await db
    .updateTable('check_counts')
    .set((eb) => ({ identifiers: eb.ref('served') }))
    .execute();
}

export async function down(db: AnyDb): Promise<void> {
  await db.schema.alterTable('check_counts').dropColumn('identifiers').execute();
}
