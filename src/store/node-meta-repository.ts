/**
 * Small named values of the node in `node_meta` (key → text). A write is one statement, so it is
 * its own short transaction; values are replaced whole.
 */
import type { Kysely } from 'kysely';
import type { Database } from './tables.js';

export class NodeMetaRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async get(key: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('node_meta').select('value').where('key', '=', key).executeTakeFirst();
    return row?.value;
  }

  async put(key: string, value: string): Promise<void> {
    await this.db
      .insertInto('node_meta')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doUpdateSet({ value }))
      .execute();
  }
}
