/**
 * The online copy (src/store/sqlite/database-file.ts, under src/store/backup.ts), driven step by step: SQLite starts a backup over when
 * another connection writes between its steps, and a node that lists continuously would keep a
 * large copy restarting for ever. These tests copy one page per step and write from a second
 * connection between steps, and check that the copy then finishes in one step, holds every write
 * made before it, and is a database a node can open.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import SQLite from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { generateEd25519KeyPair } from '../../src/crypto/index.js';
import { createBackup, readManifest, type BackupProgress } from '../../src/store/backup.js';
import { openDatabase } from '../../src/store/database.js';
import { tempDir } from '../helpers/test-node.js';

let dir: string;
let databaseFile: string;
let writer: SQLite.Database;

const identity = { member: 'alpha', federation: 'jointban.example', role: 'member' } as const;
const signingKey = generateEd25519KeyPair();

beforeEach(async () => {
  dir = tempDir('jointban-backup-online-');
  databaseFile = join(dir, 'jointban.db');
  // A migrated database with enough pages that a one-page step takes several steps.
  await (await openDatabase({ driver: 'sqlite', file: databaseFile })).close();
  writer = new SQLite(databaseFile);
  writer.pragma('journal_mode = WAL');
  const insert = writer.prepare('INSERT INTO node_meta (key, value) VALUES (?, ?)');
  writer.transaction(() => {
    for (let i = 0; i < 200; i++) insert.run(`seed-${i}`, 'x'.repeat(200));
  })();
});

afterEach(() => {
  writer.close();
  rmSync(dir, { recursive: true, force: true });
});

function keysIn(file: string): Set<string> {
  const db = new SQLite(file, { readonly: true });
  try {
    return new Set((db.prepare('SELECT key FROM node_meta').all() as { key: string }[]).map((r) => r.key));
  } finally {
    db.close();
  }
}

describe('a database nobody writes to meanwhile', () => {
  it('is copied page by page without a restart', async () => {
    const seen: BackupProgress[] = [];
    const result = await createBackup({ databaseFile, to: join(dir, 'quiet.db'), identity, signingKey, stepPages: 1, onProgress: (p) => seen.push(p) });
    expect(result.restarts).toBe(0);
    expect(seen.length).toBeGreaterThan(10);
    expect(seen.every((p, i) => i === 0 || p.remainingPages < seen[i - 1]!.remainingPages)).toBe(true);
    expect(keysIn(result.file).size).toBe(200);
    expect(readManifest(result.file)).toEqual(result.manifest);
  });
});

describe('a database written to between the steps of the copy', () => {
  it('restarts once, then copies the rest in one step, holding every write made before', async () => {
    const insert = writer.prepare('INSERT INTO node_meta (key, value) VALUES (?, ?)');
    const written: string[] = [];
    let steps = 0;
    const result = await createBackup({
      databaseFile,
      to: join(dir, 'busy.db'),
      identity,
      signingKey,
      stepPages: 1,
      onProgress: (p) => {
        steps++;
        // A write after every step until the copy notices; the copy must then catch up at once.
        if (p.restarts === 0) {
          const key = `during-${steps}`;
          insert.run(key, 'y');
          written.push(key);
        }
      },
    });
    expect(result.restarts).toBe(1);
    // The handler runs only while pages remain: after the restart the copy took one step.
    expect(steps).toBe(written.length + 1);
    const held = keysIn(result.file);
    for (const key of written) expect(held.has(key), key).toBe(true);
    expect(held.size).toBe(200 + written.length);
    const reopened = await openDatabase({ driver: 'sqlite', file: result.file, readonly: true });
    try {
      expect(reopened.sqlite.pragma('integrity_check', { simple: true })).toBe('ok');
    } finally {
      await reopened.close();
    }
  });
});
