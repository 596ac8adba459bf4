/**
 * Setup file of the `unit` project (test/vitest.config.ts): holds the project to its rule, no I/O.
 * A unit test that writes or removes a file, opens a socket, starts a process or a worker thread,
 * or reads a file of the repository other than a test vector (test/vectors/) or the shipped
 * default policy (config/policy.json) fails with the name of what it called: such a test belongs
 * in test/integration. (Opening an SQLite file is native code this cannot see; the unit tests
 * import nothing from src/store/ that opens one.)
 */
import childProcess from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import { syncBuiltinESMExports } from 'node:module';
import net from 'node:net';
import { resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import workerThreads from 'node:worker_threads';

const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
const READABLE_DIRS = [resolve(ROOT, 'test', 'vectors') + sep];
const READABLE_FILES = [resolve(ROOT, 'config', 'policy.json')];

function refuse(what: string): never {
  throw new Error(`unit tests do no I/O: ${what} belongs in an integration test (test/integration/)`);
}

function forbid(target: object, names: readonly string[], module: string): void {
  const record = target as Record<string, unknown>;
  for (const name of names) {
    if (typeof record[name] === 'function') record[name] = () => refuse(`${module}.${name}()`);
  }
}

/** Reads of the repository's own files: test vectors and the shipped policy only (dependencies stay readable). */
function guardReads(): void {
  const readFileSync = fs.readFileSync;
  const guarded = (path: fs.PathOrFileDescriptor, ...rest: unknown[]): unknown => {
    if (typeof path !== 'number') {
      const file = resolve(path instanceof URL ? fileURLToPath(path) : path.toString());
      const inRepo = file.startsWith(ROOT + sep) && !file.includes(`${sep}node_modules${sep}`);
      if (inRepo && !READABLE_FILES.includes(file) && !READABLE_DIRS.some((dir) => file.startsWith(dir))) {
        refuse(`reading ${file.slice(ROOT.length + 1)}`);
      }
    }
    return (readFileSync as (...args: unknown[]) => unknown)(path, ...rest);
  };
  (fs as { readFileSync: unknown }).readFileSync = guarded;
}

function applyRules(): void {
  forbid(fs, ['writeFileSync', 'appendFileSync', 'mkdtempSync', 'mkdirSync', 'rmSync', 'rmdirSync', 'unlinkSync', 'renameSync', 'copyFileSync', 'createWriteStream'], 'fs');
  forbid(fs, ['writeFile', 'appendFile', 'mkdtemp', 'mkdir', 'rm', 'unlink', 'rename'], 'fs');
  forbid(fs.promises, ['writeFile', 'appendFile', 'mkdtemp', 'mkdir', 'rm', 'unlink', 'rename', 'copyFile', 'open'], 'fs.promises');
  forbid(childProcess, ['spawn', 'spawnSync', 'exec', 'execSync', 'execFile', 'execFileSync', 'fork'], 'child_process');
  forbid(net, ['createServer', 'connect', 'createConnection'], 'net');
  forbid(http, ['createServer', 'request', 'get'], 'http');
  forbid(https, ['createServer', 'request', 'get'], 'https');
  forbid(workerThreads, ['Worker'], 'worker_threads');
  globalThis.fetch = () => refuse('fetch()');
  guardReads();
  // `import { writeFileSync } from 'node:fs'` sees the replacements too.
  syncBuiltinESMExports();
}

// Without isolation (test/vitest.config.ts) this file runs before every test file in one worker:
// the rules are applied once.
const APPLIED = Symbol.for('jointban.test.no-io');
const holder = globalThis as { [APPLIED]?: true };
if (holder[APPLIED] === undefined) {
  holder[APPLIED] = true;
  applyRules();
}
