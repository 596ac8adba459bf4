/**
 * Compiles the project (`npx tsc -p tsconfig.json` into dist/) for the test projects that run the
 * built CLI or worker scripts (integration, faults: see test/vitest.config.ts). A failed build
 * stops the run with the compiler's output: a CLI test against stale build output proves nothing.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function build(): Promise<void> {
  const child = spawn('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  const status = await new Promise<number | null>((resolve, reject) => {
    child.once('error', (err) => reject(new Error(`build failed to start: ${err.message}`)));
    child.once('close', resolve);
  });
  if (status !== 0) throw new Error(`build failed (npx tsc -p tsconfig.json exited ${String(status)}):\n${output}`);
}

/**
 * One build per vitest process however many projects ask for it: each project loads its global
 * setup in a module runner of its own, so the promise is kept on globalThis, which they share
 * (two compilers writing dist/ at once could leave it half-written).
 */
const KEY = Symbol.for('jointban.test.build');

export function buildOnce(): Promise<void> {
  const holder = globalThis as { [KEY]?: Promise<void> };
  holder[KEY] ??= build();
  return holder[KEY];
}
