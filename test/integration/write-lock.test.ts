/**
 * Write transactions take SQLite's write lock at their first statement (store/database.ts): a
 * transaction that reads before it writes must not fail with SQLITE_BUSY_SNAPSHOT because another
 * process committed in between, which a deferred `BEGIN` allows whatever the busy timeout.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { openDatabase, type DatabaseHandle } from '../../src/store/database.js';
import { tempDir } from '../helpers/test-node.js';

let dir: string | undefined;
const handles: DatabaseHandle[] = [];
const others: SQLite.Database[] = [];

afterEach(async () => {
  for (const o of others.splice(0)) o.close();
  for (const h of handles.splice(0)) await h.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function setup(): Promise<{ file: string; handle: DatabaseHandle; other: SQLite.Database }> {
  dir = tempDir('jointban-write-lock-');
  const file = join(dir, 'jointban.db');
  const handle = await openDatabase({ driver: 'sqlite', file });
  handles.push(handle);
  // Another process's connection, which does not wait for a lock.
  const other = new SQLite(file);
  other.pragma('busy_timeout = 0');
  others.push(other);
  return { file, handle, other };
}

const meta = (key: string, value: string) => ({ key, value });

describe('a write transaction of a writable handle', () => {
  it('holds the write lock from its first read: another connection cannot commit in between, and the transaction writes after reading', async () => {
    const { handle, other } = await setup();
    const seen = await handle.db.transaction().execute(async (trx) => {
      const before = await trx.selectFrom('node_meta').selectAll().execute();
      // With a deferred BEGIN this commit would succeed and the insert below fail with SQLITE_BUSY_SNAPSHOT.
      expect(() => other.prepare("INSERT INTO node_meta (key, value) VALUES ('other', 'x')").run()).toThrow(/locked|busy/i);
      await trx.insertInto('node_meta').values(meta('mine', 'y')).execute();
      return before.length;
    });
    expect(seen).toBe(0);
    other.prepare("INSERT INTO node_meta (key, value) VALUES ('other', 'x')").run();
    expect((await handle.db.selectFrom('node_meta').select('key').orderBy('key').execute()).map((r) => r.key)).toEqual(['mine', 'other']);
  });

  it('on a read-only handle stays a plain read transaction', async () => {
    const { file, handle, other } = await setup();
    await handle.db.insertInto('node_meta').values(meta('a', '1')).execute();
    const reader = await openDatabase({ driver: 'sqlite', file, readonly: true });
    handles.push(reader);
    const count = await reader.db.transaction().execute(async (trx) => {
      const rows = await trx.selectFrom('node_meta').selectAll().execute();
      other.prepare("INSERT INTO node_meta (key, value) VALUES ('b', '2')").run();
      return rows.length;
    });
    expect(count).toBe(1);
  });
});
