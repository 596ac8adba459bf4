/**
 * Dashboard sessions, held in this process's memory only. The browser gets a random 32-byte
 * session id in a cookie and nothing else: never the API key it logged in with. The store maps
 * the id (kept as its SHA-256, so a heap dump does not hand out live cookies) to the key's id,
 * name and scope and a per-session CSRF token. A session ends after 30 minutes idle or 8 hours in
 * all, and as soon as its API key is found revoked; the key's state is re-read at most every 30 s,
 * so revoking a key locks its dashboard sessions out within that time. A restart ends every
 * session, which for an operator's console is a feature.
 */
import { constantTimeEqual, randomBytes, sha256 } from '../../crypto/index.js';
import { toBase64Url, toHex, utf8 } from '../../crypto/encoding.js';
import type { Principal, Scope } from '../../service/api-keys.js';

export interface SessionOptions {
  idleMs: number;
  maxAgeMs: number;
  /** How long a "the key is still active" answer is trusted. */
  keyRecheckMs: number;
  /** Bound on memory: beyond it, the least recently used session is ended. */
  maxSessions: number;
}

export const SESSION_DEFAULTS: SessionOptions = {
  idleMs: 30 * 60_000,
  maxAgeMs: 8 * 3_600_000,
  keyRecheckMs: 30_000,
  maxSessions: 10_000,
};

export interface DashboardSession {
  keyId: string;
  keyName: string;
  scope: Scope;
  /** The synchronizer token every POST form of this session must carry. */
  csrfToken: string;
  createdAt: number;
  lastSeenAt: number;
  keyCheckedAt: number;
}

export type ResumeResult = { ok: true; session: DashboardSession } | { ok: false; reason: 'none' | 'expired' | 'revoked' };

const SESSION_ID = /^[A-Za-z0-9_-]{43}$/;

function storeKey(id: string): string {
  return toHex(sha256(utf8(id)));
}

/** A fresh random 32-byte token, base64url. */
export function newToken(): string {
  return toBase64Url(randomBytes(32));
}

/** Compares two tokens in constant time; a missing one never matches. */
export function tokensMatch(a: string | undefined, b: string | undefined): boolean {
  if (!a || !b) return false;
  return constantTimeEqual(utf8(a), utf8(b));
}

export class SessionStore {
  // A Map iterates in insertion order; resume() re-inserts, so the first entry is the least recently used.
  private readonly sessions = new Map<string, DashboardSession>();

  constructor(
    private readonly now: () => Date,
    private readonly keyActive: (keyId: string) => Promise<boolean>,
    private readonly options: SessionOptions = SESSION_DEFAULTS,
  ) {}

  get size(): number {
    return this.sessions.size;
  }

  /** Starts a session for a principal whose key was just authenticated; returns the cookie value. */
  create(principal: Principal): { id: string; session: DashboardSession } {
    const t = this.now().getTime();
    this.sweep(t);
    while (this.sessions.size >= this.options.maxSessions) {
      const oldest = this.sessions.keys().next();
      if (oldest.done) break;
      this.sessions.delete(oldest.value);
    }
    const id = newToken();
    const session: DashboardSession = {
      keyId: principal.keyId,
      keyName: principal.name,
      scope: principal.scope,
      csrfToken: newToken(),
      createdAt: t,
      lastSeenAt: t,
      keyCheckedAt: t,
    };
    this.sessions.set(storeKey(id), session);
    return { id, session };
  }

  /** The live session of a cookie value, touched; or why there is none. */
  async resume(id: string | undefined): Promise<ResumeResult> {
    if (!id || !SESSION_ID.test(id)) return { ok: false, reason: 'none' };
    const key = storeKey(id);
    const session = this.sessions.get(key);
    if (!session) return { ok: false, reason: 'none' };
    const t = this.now().getTime();
    if (t - session.lastSeenAt > this.options.idleMs || t - session.createdAt > this.options.maxAgeMs) {
      this.sessions.delete(key);
      return { ok: false, reason: 'expired' };
    }
    if (t - session.keyCheckedAt > this.options.keyRecheckMs) {
      if (!(await this.keyActive(session.keyId))) {
        this.endKey(session.keyId);
        return { ok: false, reason: 'revoked' };
      }
      session.keyCheckedAt = t;
    }
    session.lastSeenAt = t;
    this.sessions.delete(key);
    this.sessions.set(key, session);
    return { ok: true, session };
  }

  end(id: string | undefined): void {
    if (id && SESSION_ID.test(id)) this.sessions.delete(storeKey(id));
  }

  /** Ends every session opened with a key (it was found revoked). */
  private endKey(keyId: string): void {
    for (const [key, s] of this.sessions) if (s.keyId === keyId) this.sessions.delete(key);
  }

  /** Drops expired sessions, so abandoned logins do not accumulate. */
  private sweep(t: number): void {
    for (const [key, s] of this.sessions) {
      if (t - s.lastSeenAt > this.options.idleMs || t - s.createdAt > this.options.maxAgeMs) this.sessions.delete(key);
    }
  }
}
