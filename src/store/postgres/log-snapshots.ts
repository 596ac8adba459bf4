/**
 * The snapshots of a PostgreSQL store opened by `openDatabase` (database.ts), for `jointban
 * verify`: one Kysely transaction, REPEATABLE READ and READ ONLY (so it takes no writer lock,
 * connection.ts, and cannot write), and a log batch reader on that transaction's own client, so
 * Kysely's reads and the reader's see one snapshot. Workers read it too: the transaction exports
 * its snapshot (`pg_export_snapshot()`) when they are about to start, and each imports it on a
 * connection of its own (log-batch-reader.ts); it stays importable while this transaction is open,
 * which is the whole verification.
 */
import type { Kysely } from 'kysely';
import type { LogSnapshots } from '../log-batch-reader.js';
import type { Database } from '../tables.js';
import { classifyPostgresError, clientOf, type PostgresOptions } from './connection.js';
import { exportSnapshot, PostgresLogBatchReader } from './log-batch-reader.js';

export function postgresLogSnapshots(db: Kysely<Database>, options: Omit<PostgresOptions, 'readonly'>): LogSnapshots {
  return {
    read: (read) =>
      db
        .transaction()
        .setIsolationLevel('repeatable read')
        .setAccessMode('read only')
        .execute(async (trx) => {
          const client = await trx.getExecutor().provideConnection(async (connection) => clientOf(connection));
          let snapshot: Promise<string> | undefined;
          return read({
            db: trx,
            reader: new PostgresLogBatchReader(client, classifyPostgresError),
            workerTarget: async () => ({
              engine: 'postgres',
              url: options.url,
              snapshot: await (snapshot ??= exportSnapshot(client)),
              connectTimeoutMs: options.connectTimeoutMs,
              statementTimeoutMs: options.statementTimeoutMs,
            }),
          });
        }),
  };
}
