/**
 * API keys for platform services. Only a SHA-256 of the secret is stored: keys are 256-bit random
 * values, so a fast hash is enough to make a stolen database useless for calling the API.
 */
import type { Kysely } from 'kysely';
import type { ApiKeyTable, Database } from './tables.js';

export type ApiKeyRow = Omit<ApiKeyTable, 'key_hash'>;

export class ApiKeyRepository {
  constructor(private readonly db: Kysely<Database>) {}

  async insert(row: Omit<ApiKeyTable, 'last_used_at' | 'revoked_at'>): Promise<void> {
    await this.db
      .insertInto('api_keys')
      .values({ ...row, revoked_at: null, last_used_at: null })
      .execute();
  }

  async findForAuth(id: string): Promise<ApiKeyTable | undefined> {
    return this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst();
  }

  async list(): Promise<ApiKeyRow[]> {
    return this.db.selectFrom('api_keys').select(['id', 'name', 'scope', 'created_at', 'revoked_at', 'last_used_at']).orderBy('created_at').execute();
  }

  /** Returns false when the key does not exist or was already revoked. */
  async revoke(id: string, at: string): Promise<boolean> {
    const result = await this.db.updateTable('api_keys').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) === 1;
  }

  async count(): Promise<number> {
    const row = await this.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll().as('n'))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }
}
