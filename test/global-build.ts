/**
 * Global setup of the `faults` project (test/vitest.config.ts): the crash tests run the built
 * `jointban start` as a child process they can SIGKILL, so the project is compiled first
 * (test/helpers/build.ts; one build per run even when `integration` runs alongside).
 */
import { buildOnce } from './helpers/build.js';

export default async function setup(): Promise<void> {
  await buildOnce();
}
