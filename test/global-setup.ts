/**
 * Vitest global setup: compiles the project once before the suite, so the CLI tests can run the
 * real `jointban` command (`node dist/src/cli/main.js`) as a child process. A failed build stops
 * the whole run with the compiler's output: a CLI test against stale build output proves nothing.
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

export default function setup(): void {
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  if (result.error) throw new Error(`build failed to start: ${result.error.message}`);
  if (result.status !== 0) {
    throw new Error(`build failed (npx tsc -p tsconfig.json exited ${String(result.status)}):\n${result.stdout}${result.stderr}`);
  }
}
