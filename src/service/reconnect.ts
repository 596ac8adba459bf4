/**
 * Reconnecting a platform's record to one of this node's own listings that has no `reference`:
 * a listing fetched back from the peers after a restore (own-log-recovery.ts; the log never
 * carries the platform's account id), or one listed through the API without a reference. The
 * platform's row and the listing are the same ban when the row's identifiers give exactly the
 * listing's tokens (under the listing's own epochs) and the ban agrees: same category, same end
 * (`banUntil`), and the same start when the row gives one. Then `import` records the row's reference
 * on the listing instead of listing the ban a second time, and `import --relist` relists it.
 * docs/OPERATIONS.md, "Losing a node's disk".
 */
import type { Kysely } from 'kysely';
import { ListingReader, ListingWriter, type ListingRow } from '../store/listing-repository.js';
import type { Database } from '../store/tables.js';

export interface BanToMatch {
  /** The row's tokens, `type/epoch/hex`, under (at least) every epoch of the listings it may match. */
  tokens: ReadonlySet<string>;
  category: string;
  banUntil: string | null;
  /** Undefined when the row gives no start: any start matches. */
  bannedAt: string | undefined;
}

export const tokenKey = (t: { type: string; epoch: number; hex: string }): string => `${t.type}/${t.epoch}/${t.hex}`;

const epochOf = (key: string): number => Number(key.split('/')[1]);

const sameInstant = (a: string | null, b: string | null | undefined): boolean => a === b || (a !== null && b != null && Date.parse(a) === Date.parse(b));

/** Whether the listing (with its tokens) is the ban the row describes. Pure. */
export function isSameBan(row: ListingRow, tokens: readonly { type: string; epoch: number; token: Uint8Array }[], want: BanToMatch): boolean {
  if (row.category !== want.category || !sameInstant(row.ban_until, want.banUntil)) return false;
  if (want.bannedAt !== undefined && !sameInstant(row.banned_at, want.bannedAt)) return false;
  // Compared under the epochs both sides have: the row's are those this node holds, the listing's
  // may include one retired since (a listing made during an earlier overlap).
  const rowEpochs = new Set([...want.tokens].map(epochOf));
  const epochs = new Set(tokens.map((t) => t.epoch).filter((e) => rowEpochs.has(e)));
  if (epochs.size === 0) return false;
  const held = new Set(tokens.filter((t) => epochs.has(t.epoch)).map((t) => tokenKey({ type: t.type, epoch: t.epoch, hex: Buffer.from(t.token).toString('hex') })));
  const wanted = [...want.tokens].filter((k) => epochs.has(epochOf(k)));
  return wanted.length === held.size && wanted.every((k) => held.has(k));
}

/**
 * For each ban, the id of an active own listing without a reference that is that ban, or
 * undefined. One listing answers at most one ban (the first that asks), so two rows never claim it.
 */
export async function findUnreferenced(db: Kysely<Database>, origin: string, wants: readonly BanToMatch[], now: string): Promise<(string | undefined)[]> {
  const reader = new ListingReader(db);
  const tokenBytes = wants.flatMap((w) => [...w.tokens].map((k) => Buffer.from(k.split('/')[2]!, 'hex')));
  const candidates = await reader.unreferencedByTokens(origin, tokenBytes, now);
  if (candidates.length === 0) return wants.map(() => undefined);
  const taken = new Set<string>();
  return wants.map((want) => {
    const hit = candidates.find((c) => !taken.has(c.listing.id) && isSameBan(c.listing, c.tokens, want));
    if (hit) taken.add(hit.listing.id);
    return hit?.listing.id;
  });
}

/** The ban a prepared listing describes; `bannedAtGiven`: whether its input named its start. */
export function banOf(entry: { tokens: readonly { type: string; epoch: number; token: string }[]; category: string; banUntil: string | null; bannedAt: string }, bannedAtGiven: boolean): BanToMatch {
  return {
    tokens: new Set(entry.tokens.map((t) => tokenKey({ type: t.type, epoch: t.epoch, hex: t.token }))),
    category: entry.category,
    banUntil: entry.banUntil,
    bannedAt: bannedAtGiven ? entry.bannedAt : undefined,
  };
}

/** Records each reference on its listing, if the listing still has none; returns how many were recorded. */
export async function attachReferences(db: Kysely<Database>, origin: string, pairs: readonly { id: string; reference: string }[]): Promise<number> {
  if (pairs.length === 0) return 0;
  return db.transaction().execute(async (trx) => {
    const writer = new ListingWriter(trx);
    let attached = 0;
    for (const p of pairs) if (await writer.attachReference(origin, p.id, p.reference)) attached++;
    return attached;
  });
}
