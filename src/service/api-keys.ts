/**
 * API keys: `jb_<id>_<secret>`. The id finds the row; the secret is checked against its stored
 * SHA-256 in constant time. The platform scopes nest (admin can do everything write can, write
 * everything check can), so one key per service is enough. `auditor` stands apart: it reads audit
 * data and nothing else, so the association's or a regulator's auditor never holds a key that can
 * check identifiers or list bans; admin reads audit data too.
 */
import { constantTimeEqual, randomBytes, sha256, sha256Native } from '../crypto/index.js';
import { toBase64Url, utf8 } from '../crypto/encoding.js';
import { AppError } from '../errors.js';
import type { ApiKeyRepository, ApiKeyRow } from '../store/api-key-repository.js';
import type { ApiKeyTable } from '../store/tables.js';
import type { ApiKeyLookup } from '../store/token-index.js';

export type { ApiKeyLookup } from '../store/token-index.js';

export const SCOPES = ['check', 'write', 'admin', 'auditor'] as const;
export type Scope = (typeof SCOPES)[number];

/** What a key of each scope may do: the scopes whose calls it is allowed to make. */
export const SCOPE_GRANTS: Readonly<Record<Scope, readonly Scope[]>> = {
  check: ['check'],
  write: ['write', 'check'],
  admin: ['admin', 'write', 'check', 'auditor'],
  auditor: ['auditor'],
};

/** The grants as one line for help texts: `check; write (also check); …`. */
export function describeScopes(): string {
  return SCOPES.map((scope) => {
    const also = SCOPE_GRANTS[scope].filter((s) => s !== scope);
    return also.length > 0 ? `${scope} (also ${also.join(', ')})` : scope;
  }).join('; ');
}

/**
 * A key id: 9 random bytes in base64url, never starting with '-', which the CLI would read as an
 * option (`jointban apikey revoke -B7d…` failed one time in 64). Ids of older keys may still start
 * with one: `jointban apikey revoke --data-dir DIR -- <id>`.
 */
export function newKeyId(): string {
  for (;;) {
    const id = toBase64Url(randomBytes(9));
    if (!id.startsWith('-')) return id;
  }
}

const KEY_PATTERN = /^jb_([A-Za-z0-9_-]{12})_([A-Za-z0-9_-]{43})$/;

export interface Principal {
  keyId: string;
  name: string;
  scope: Scope;
}

export function scopeAllows(held: Scope, needed: Scope): boolean {
  return SCOPE_GRANTS[held].includes(needed);
}

export class ApiKeyService {
  /**
   * Key rows by id, read once and kept while the database is unchanged: cleared when this service
   * revokes a key and whenever the lookup's version moves (store/token-index.ts: on SQLite
   * data_version, which moves when another process commits anything, so a key revoked by `jointban
   * apikey revoke` stops working on the very next request; on PostgreSQL a LISTEN on key changes, a
   * moment after the commit). Unknown ids are not kept (they would let a caller grow the map at will).
   */
  private readonly cache = new Map<string, ApiKeyTable>();
  private cacheVersion: number | undefined;
  /** Moved by this service's own revocations: a row read before one is not cached after it. */
  private generation = 0;

  constructor(
    private readonly repo: ApiKeyRepository,
    private readonly now: () => Date,
    private readonly lookup?: ApiKeyLookup,
  ) {}

  /** Creates a key and returns it in full: the only time the secret is ever visible. */
  async create(scope: Scope, name: string): Promise<{ id: string; key: string; scope: Scope; name: string }> {
    const id = newKeyId();
    const secret = toBase64Url(randomBytes(32));
    await this.repo.insert({ id, name, scope, key_hash: sha256(utf8(secret)), created_at: this.now().toISOString() });
    return { id, key: `jb_${id}_${secret}`, scope, name };
  }

  async authenticate(key: string): Promise<Principal> {
    const m = KEY_PATTERN.exec(key);
    const found = m ? (this.lookup ? this.cachedRow(m[1]!, this.lookup) : this.repo.findForAuth(m[1]!)) : undefined;
    // Awaited only when it is a promise: SQLite's lookup answers at once, on every request.
    const row = found instanceof Promise ? await found : found;
    // node:crypto's SHA-256: the same digest as sha256(), a few µs less on every request.
    if (!m || !row || row.revoked_at !== null || !constantTimeEqual(new Uint8Array(row.key_hash), sha256Native(utf8(m[2]!)))) {
      throw new AppError('unauthorized', 'unknown or revoked API key');
    }
    return { keyId: row.id, name: row.name, scope: row.scope };
  }

  private cachedRow(id: string, lookup: ApiKeyLookup): ApiKeyTable | undefined | Promise<ApiKeyTable | undefined> {
    const version = lookup.dataVersion();
    if (version !== this.cacheVersion) {
      this.cache.clear();
      this.cacheVersion = version;
    }
    const cached = this.cache.get(id);
    if (cached) return cached;
    const row = lookup.apiKey(id);
    if (!(row instanceof Promise)) {
      if (row) this.cache.set(id, row);
      return row;
    }
    // Read asynchronously: kept only if no change was signalled (nor made here) while it was read.
    const generation = this.generation;
    return row.then((r) => {
      if (r && generation === this.generation && lookup.dataVersion() === version && this.cacheVersion === version) this.cache.set(id, r);
      return r;
    });
  }

  list(): Promise<ApiKeyRow[]> {
    return this.repo.list();
  }

  async revoke(id: string): Promise<void> {
    const revoked = await this.repo.revoke(id, this.now().toISOString());
    this.generation += 1;
    this.cache.clear();
    if (!revoked) {
      throw new AppError('not_found', `no active API key with id ${id}`);
    }
  }
}
