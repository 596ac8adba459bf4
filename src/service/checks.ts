/**
 * The registration-time check: identifiers (or tokens a platform derived itself) → token lookup →
 * the joint-penalty policy → allow / review / deny with the penalties and the rules that fired.
 */
import type { Kysely } from 'kysely';
import { fromHex } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import type { IdentifierType } from '../identifiers/types.js';
import { parseListingId } from '../log/entry.js';
import { buildReceipt, type Receipt } from '../log/receipt.js';
import { CheckpointRepository } from '../store/checkpoint-repository.js';
import { LogReader } from '../store/log-repository.js';
import { inclusionProofAt } from '../store/proofs.js';
import { evaluatePolicy, type Decision, type Policy, type PolicyMatch, type Purpose } from '../policy/index.js';
import { ListingReader, type TokenQuery } from '../store/listing-repository.js';
import type { Database } from '../store/tables.js';
import type { TokenIndex } from '../store/token-index.js';
import type { CheckRecorder } from './check-counter.js';
import type { IdentifierInput, Tokenizer } from './tokenizer.js';

export interface CheckInput {
  identifiers?: IdentifierInput[] | undefined;
  tokens?: { type: IdentifierType; token: string; epoch?: number | undefined }[] | undefined;
  purpose?: Purpose | undefined;
  /** Attach, for a deny or review, a receipt per matched listing (see log/receipt.ts). */
  receipts?: boolean | undefined;
}

export interface CheckMatch {
  listingId: string;
  origin: string;
  category: string;
  severity: string;
  identifierType: IdentifierType;
  bannedAt: string;
  banUntil: string | null;
  expiresAt: string;
}

export interface CheckResult {
  decision: Decision['decision'];
  purpose: Purpose;
  matches: CheckMatch[];
  penalties: Decision['penalties'];
  rules: string[];
  receipts?: Receipt[];
}

export interface CheckServiceDeps {
  db: Kysely<Database>;
  /**
   * Whether the roster still vouches for a listing of this origin made at this time: a removed
   * member's listings, and a suspended member's listings made at or after its suspension, stop
   * matching at once, even those this node stored before it learnt of the change.
   */
  listingInForce?: (origin: string, listedAt: string) => boolean;
  federation: string;
  policy: Policy;
  tokenizer: Tokenizer;
  now: () => Date;
  /** Counts every check served and the identifiers it tested, for the audit report (in memory; see check-counter.ts). */
  counter?: CheckRecorder;
  /**
   * The hot path's token index (store/token-index.ts): undefined from it, or when absent, means
   * the Kysely query answers instead, with the same result.
   */
  fastMatch?: Pick<TokenIndex, 'match'>;
}

/** Who asked: the API key behind an API call, nothing for the CLI and in-process calls. */
export interface CheckCaller {
  keyId?: string | undefined;
  /**
   * `performance.now()` when the request arrived, before its API key was checked: the token filter's
   * catch-up that check made serves this check too (store/token-index.ts).
   */
  receivedAt?: number | undefined;
}

export class CheckService {
  constructor(private readonly deps: CheckServiceDeps) {}

  private queries(input: CheckInput): TokenQuery[] {
    const hasIds = (input.identifiers?.length ?? 0) > 0;
    const hasTokens = (input.tokens?.length ?? 0) > 0;
    if (hasIds === hasTokens) throw new AppError('invalid_input', 'give either "identifiers" or "tokens" (one or more), not both');
    if (hasIds) return this.deps.tokenizer.tokensForCheck(input.identifiers ?? []);
    return (input.tokens ?? []).map((t, i) => {
      const token = fromHex(t.token);
      if (!token || token.length !== 16) throw new AppError('invalid_input', `tokens[${i}].token: must be 32 lower-case hex characters`);
      return { type: t.type, token, epoch: t.epoch };
    });
  }

  async check(input: CheckInput, caller: CheckCaller = {}): Promise<CheckResult> {
    const purpose = input.purpose ?? 'registration';
    const queries = this.queries(input);
    const now = this.deps.now();
    const at = now.toISOString();
    const fast = this.deps.fastMatch?.match(queries, at, caller.receivedAt);
    // Awaited only when it is a promise (PostgreSQL): SQLite's index answers at once.
    const rows = (fast instanceof Promise ? await fast : fast) ?? (await new ListingReader(this.deps.db).matchTokens(queries, at));
    const seen = new Set<string>();
    const matches: CheckMatch[] = [];
    for (const { listing, type } of rows) {
      if (this.deps.listingInForce && !this.deps.listingInForce(listing.origin, listing.listed_at)) continue;
      const key = `${listing.id}/${type}`;
      if (seen.has(key)) continue;
      seen.add(key);
      matches.push({
        listingId: listing.id,
        origin: listing.origin,
        category: listing.category,
        severity: listing.severity,
        identifierType: type,
        bannedAt: listing.banned_at,
        banUntil: listing.ban_until,
        expiresAt: listing.expires_at,
      });
    }
    matches.sort((a, b) => (a.listingId < b.listingId ? -1 : a.listingId > b.listingId ? 1 : a.identifierType.localeCompare(b.identifierType)));
    const policyMatches: PolicyMatch[] = matches.map((m) => ({ ...m, severity: 'severe', status: 'active' }));
    const decision = evaluatePolicy(this.deps.policy, purpose, policyMatches, now);
    const result: CheckResult = { decision: decision.decision, purpose, matches, penalties: decision.penalties, rules: decision.rules };
    if (input.receipts && decision.decision !== 'allow') result.receipts = await this.receiptsFor(matches);
    // Counted once the answer is complete: a check that failed was not served. Each identifier
    // (or token) asked about is one test, whatever the number of epochs it was tokenised under.
    const tested = input.identifiers?.length || input.tokens?.length || 0;
    this.deps.counter?.record(purpose, caller.keyId, tested, decision.decision !== 'allow' ? 1 : 0);
    return result;
  }

  /**
   * A receipt per matched listing that a signed checkpoint already covers. A listing made in the
   * last second may not be covered yet (checkpoints are batched); it gets none until then.
   */
  async receiptsFor(matches: readonly CheckMatch[]): Promise<Receipt[]> {
    const log = new LogReader(this.deps.db);
    const checkpoints = new CheckpointRepository(this.deps.db);
    const out: Receipt[] = [];
    for (const id of new Set(matches.map((m) => m.listingId))) {
      const parsed = parseListingId(id);
      if (!parsed.ok) continue;
      const index = parsed.seq - 1;
      const cp = await checkpoints.covering(parsed.origin, index);
      const entry = await log.entry(parsed.origin, parsed.seq);
      if (!cp || !entry) continue;
      const proof = await inclusionProofAt(log, parsed.origin, index, cp.size);
      out.push(buildReceipt({ federation: this.deps.federation, origin: parsed.origin, leafIndex: index, treeSize: cp.size, entry: entry.bytes, proof, checkpoint: cp.note }));
    }
    return out;
  }
}
