/**
 * V8's gc(), exposed at runtime: vitest does not start its workers with --expose-gc, and
 * `setFlagsFromString` alone does not define `gc` in a context that already exists, so a fresh
 * context is asked for it. Undefined where the flag cannot be set.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function exposeGc(): (() => void) | undefined {
  setFlagsFromString('--expose-gc');
  const gc: unknown = runInNewContext('typeof gc === "function" ? gc : undefined');
  return typeof gc === 'function' ? (gc as () => void) : undefined;
}
