/**
 * The log batch reader on PostgreSQL (src/store/log-batch-reader.ts). Not built yet: `jointban
 * verify` on a PostgreSQL node says so.
 */
import type { Kysely } from 'kysely';
import { AppError } from '../../errors.js';
import type { LogSnapshots } from '../log-batch-reader.js';
import type { Database } from '../tables.js';
import type { PostgresPool } from './connection.js';

export function postgresLogSnapshots(_db: Kysely<Database>, _pool: PostgresPool): LogSnapshots {
  return {
    read: () => Promise.reject(new AppError('unavailable', 'the log batch reader is not available on PostgreSQL yet')),
    workerTarget: undefined,
  };
}
