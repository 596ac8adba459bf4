/**
 * fast-check generators of valid protocol objects (docs/PROTOCOL.md): log entries over the whole
 * range the format allows, member ids, keys, rosters. Fuzz properties start from these and mutate
 * them, or check round trips.
 */
import fc from 'fast-check';
import { toBase64, toHex } from '../../src/crypto/encoding.js';
import { ed25519PublicKey } from '../../src/crypto/index.js';
import { IDENTIFIER_TYPES } from '../../src/identifiers/types.js';
import { MAX_TOKENS, RETRACTION_REASONS, type ListingEntry, type LogEntry, type RetractionEntry } from '../../src/log/entry.js';
import type { Roster, RosterMember } from '../../src/roster/index.js';

/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z: the instants with a four-digit year. */
const FIRST_MS = -62_167_219_200_000;
const LAST_MS = 253_402_300_799_999;

/** Mostly this century, sometimes anywhere a four-digit year reaches. */
export const timeMs = fc.oneof({ weight: 4, arbitrary: fc.integer({ min: Date.UTC(2000, 0, 1), max: Date.UTC(2100, 0, 1) }) }, { weight: 1, arbitrary: fc.integer({ min: FIRST_MS, max: LAST_MS }) });
export const isoTime = timeMs.map((ms) => new Date(ms).toISOString());

export const memberId = fc.stringMatching(/^[a-z][a-z0-9-]{1,31}$/);
export const hexToken = fc.uint8Array({ minLength: 16, maxLength: 16 }).map(toHex);

export const listingEntry: fc.Arbitrary<ListingEntry> = fc
  .record({
    origin: memberId,
    seq: fc.oneof(fc.integer({ min: 1, max: 1_000 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
    time: isoTime,
    category: fc.stringMatching(/^[a-z][a-z0-9_]{1,63}$/),
    bannedAt: fc.integer({ min: FIRST_MS, max: LAST_MS - 2 }),
    banFraction: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
    expiryFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    evidenceDigest: fc.option(
      fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => `sha256:${toHex(b)}`),
      { nil: undefined },
    ),
    tokens: fc.uniqueArray(fc.record({ type: fc.constantFrom(...IDENTIFIER_TYPES), epoch: fc.oneof(fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 2 ** 32 - 1 })), token: hexToken }), {
      minLength: 1,
      maxLength: MAX_TOKENS,
      selector: (t) => `${t.type}/${t.epoch}/${t.token}`,
    }),
  })
  .map(({ bannedAt, banFraction, expiryFraction, evidenceDigest, ...rest }) => {
    // Strictly after bannedAt and still a four-digit year.
    const after = (f: number) => new Date(bannedAt + 1 + Math.floor(f * (LAST_MS - bannedAt - 1))).toISOString();
    const entry: ListingEntry = {
      v: 1,
      kind: 'listing',
      severity: 'severe',
      ...rest,
      bannedAt: new Date(bannedAt).toISOString(),
      banUntil: banFraction === null ? null : after(banFraction),
      expiresAt: after(expiryFraction),
    };
    if (evidenceDigest !== undefined) entry.evidenceDigest = evidenceDigest;
    return entry;
  });

export const retractionEntry: fc.Arbitrary<RetractionEntry> = fc
  .record({
    origin: memberId,
    seq: fc.oneof(fc.integer({ min: 2, max: 1_000 }), fc.integer({ min: 2, max: Number.MAX_SAFE_INTEGER })),
    time: isoTime,
    reason: fc.constantFrom(...RETRACTION_REASONS),
    t: fc.double({ min: 0, max: 1, noNaN: true }),
  })
  .map(({ t, ...rest }) => ({ v: 1, kind: 'retraction', ...rest, target: 1 + Math.floor(t * (rest.seq - 2)) }) satisfies RetractionEntry);

export const logEntry: fc.Arbitrary<LogEntry> = fc.oneof(listingEntry, retractionEntry);

/** Deterministic Ed25519 secret keys: seed(n) is 32 bytes of n. */
export function seed(n: number): Uint8Array {
  return new Uint8Array(32).fill(n);
}

/** A pool of key pairs, computed once (deriving a public key costs a scalar multiplication). */
export const KEYS = Array.from({ length: 12 }, (_, i) => {
  const secretKey = seed(i + 1);
  return { secretKey, publicKey: ed25519PublicKey(secretKey) };
});

const memberName = fc.oneof(fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9 .&-]{0,30}[A-Za-z0-9]$/), fc.constantFrom('演出行业协会', 'Ünïcödé Platform', 'Alpha Video', 'B'));
const endpoint = fc.oneof(
  fc
    .tuple(
      fc.constantFrom('http', 'https'),
      fc.stringMatching(/^[a-z][a-z0-9]{0,11}(\.[a-z][a-z0-9]{0,11}){0,2}$/),
      fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined }),
      fc.stringMatching(/^(\/[A-Za-z0-9._~-]{1,8}){0,2}$/),
    )
    .map(([scheme, host, port, path]) => `${scheme}://${host}${port === undefined ? '' : `:${port}`}${path}`),
  fc.constantFrom('http://127.0.0.1:7300', 'https://[::1]:8443/jointban'),
);

/**
 * A valid roster of the federation `jointban.example`: 1 to 8 members with distinct ids and keys
 * from KEYS (index 0 is the trust root, kept out of the members), exactly one association, members
 * sorted by id, times consistent with issuedAt; up to three members carry a key history (an
 * earlier key from the KEYS no member uses, rotated half-way between since and issuedAt).
 */
export const roster: fc.Arbitrary<Roster> = fc
  .record({
    ids: fc.uniqueArray(
      memberId.filter((id) => id !== 'roster'),
      { minLength: 1, maxLength: 8 },
    ),
    keyOrder: fc.shuffledSubarray(
      Array.from({ length: KEYS.length - 1 }, (_, i) => i + 1),
      { minLength: KEYS.length - 1, maxLength: KEYS.length - 1 },
    ),
    names: fc.array(memberName, { minLength: 8, maxLength: 8 }),
    endpoints: fc.array(endpoint, { minLength: 8, maxLength: 8 }),
    association: fc.nat(),
    suspended: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    rotated: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
    version: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER })),
    issuedAt: fc.integer({ min: Date.UTC(2001, 0, 1), max: Date.UTC(2100, 0, 1) }),
    ages: fc.array(fc.integer({ min: 0, max: 1_000_000_000_000 }), { minLength: 16, maxLength: 16 }),
  })
  .map((r) => {
    const ids = [...r.ids].sort();
    const association = r.association % ids.length;
    let spare = 8;
    const members = ids.map((id, i): RosterMember => {
      const since = r.issuedAt - r.ages[i]!;
      const member: RosterMember = {
        id,
        name: r.names[i]!,
        role: i === association ? 'association' : 'member',
        publicKey: toBase64(KEYS[r.keyOrder[i]!]!.publicKey),
        endpoint: r.endpoints[i]!,
        status: 'active',
        since: new Date(since).toISOString(),
      };
      const rotatedAt = since + Math.floor((r.issuedAt - since) / 2);
      if (r.rotated[i] && spare < KEYS.length - 1 && rotatedAt > since) {
        member.keyValidFrom = new Date(rotatedAt).toISOString();
        member.previousKeys = [{ publicKey: toBase64(KEYS[r.keyOrder[spare++]!]!.publicKey), validFrom: member.since, validUntil: new Date(rotatedAt + 86_400_000).toISOString() }];
      }
      if (i !== association && r.suspended[i]) {
        member.status = 'suspended';
        member.suspendedAt = new Date(since + Math.floor((r.issuedAt - since) / 2)).toISOString();
      }
      return member;
    });
    return { federation: 'jointban.example', version: r.version, issuedAt: new Date(r.issuedAt).toISOString(), members };
  });
