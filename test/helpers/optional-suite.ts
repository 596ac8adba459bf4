/**
 * The one rule for suites that need a system package a machine may lack (Chromium, PostgreSQL's
 * binaries): on a fresh clone `npm test` passes, and such a suite is skipped with exactly one
 * visible line saying what was skipped and how to enable it. With JOINTBAN_REQUIRE_ALL_SUITES=1
 * (set by .ci/run) the same condition fails the file instead, so CI always runs everything. `CI`
 * alone is not trusted: a developer's shell may set it, and a local run must not fail for that.
 */

export const REQUIRE_ALL_SUITES = 'JOINTBAN_REQUIRE_ALL_SUITES';

export interface OptionalSuite {
  /** What would be skipped, e.g. "dashboard browser tests". */
  suite: string;
  /** Why it cannot run here, or undefined when it can. */
  missing: string | undefined;
  /** How to enable it, e.g. "apt-get install chromium". */
  enable: string;
}

/**
 * True when the suite can run. Otherwise prints the skip line and returns false, or throws when
 * JOINTBAN_REQUIRE_ALL_SUITES=1: call it at module level, so the throw fails the whole file.
 */
export function suiteCanRun({ suite, missing, enable }: OptionalSuite): boolean {
  if (missing === undefined) return true;
  if (process.env[REQUIRE_ALL_SUITES] === '1') {
    throw new Error(`${suite} cannot run: ${missing}; ${enable} (${REQUIRE_ALL_SUITES}=1 turns this skip into a failure)`);
  }
  console.warn(`skipped: ${suite} — ${missing}; ${enable}`);
  return false;
}
