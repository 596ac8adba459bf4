/**
 * Which roster a node may move to (docs/PROTOCOL.md, "Accepting a roster"). A node never
 * goes back to an older roster, so a stale copy served by a peer or an attacker cannot reinstate a
 * removed member or lift a suspension. Two different rosters with one version are evidence that the
 * trust root signed conflicting lists (equivocation); they are refused and flagged as such.
 *
 * Both rosters are expected to be verified already (`openRoster`). Pure; never throws.
 */
import { canonicalRosterJson } from './note.js';
import type { Roster } from './schema.js';

export type AcceptRosterFailure = 'federation_mismatch' | 'older_version' | 'conflicting_version';

export type AcceptRosterResult = { ok: true /** false when the candidate is the roster already held. */; changed: boolean } | { ok: false; reason: AcceptRosterFailure; error: string };

export function acceptRoster(held: Roster | undefined, candidate: Roster): AcceptRosterResult {
  if (held === undefined) return { ok: true, changed: true };
  if (candidate.federation !== held.federation) {
    return { ok: false, reason: 'federation_mismatch', error: `roster is for federation ${candidate.federation}, not ${held.federation}` };
  }
  if (candidate.version < held.version) {
    return { ok: false, reason: 'older_version', error: `roster version ${candidate.version} is older than the held version ${held.version}` };
  }
  if (candidate.version > held.version) return { ok: true, changed: true };
  const a = canonicalRosterJson(held);
  const b = canonicalRosterJson(candidate);
  if (a === undefined || a !== b) {
    return { ok: false, reason: 'conflicting_version', error: `roster version ${candidate.version} differs from the held roster of the same version` };
  }
  return { ok: true, changed: false };
}
