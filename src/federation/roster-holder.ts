/**
 * Holds the roster this node currently trusts. A roster is accepted only when it is signed by the
 * trust root from the node's config and is not older than the one held (rules in src/roster/).
 * The latest accepted roster is kept in the database, so a restart cannot be talked back into an
 * older one. The source, a file or the association node's URL, is re-read periodically.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { AppError } from '../errors.js';
import { acceptRoster, openRoster, parseTrustRoot, type Roster } from '../roster/index.js';
import type { RosterRepository } from '../store/roster-repository.js';
import type { PeerClient } from './peer-client.js';

export interface TrustRoot {
  name: string;
  publicKey: Uint8Array;
}

export interface RosterHolderDeps {
  rosters: RosterRepository;
  trustRoot: TrustRoot | undefined;
  file: string | undefined;
  url: string | undefined;
  refreshIntervalMs: number;
  client: PeerClient;
  logger: Logger;
  now: () => Date;
  onChange: (roster: Roster) => void;
}

/** The trust root from config: the association's roster verifier key, for this federation. */
export function parseTrustRootKey(text: string | undefined, federation?: string): TrustRoot | undefined {
  if (text === undefined) return undefined;
  const parsed = parseTrustRoot(text, federation);
  if (!parsed.ok) throw new AppError('invalid_input', `roster.trustRoot: ${parsed.error}`);
  return { name: parsed.trustRoot.name, publicKey: parsed.trustRoot.publicKey };
}

export type OfferResult = { ok: true; changed: boolean } | { ok: false; error: string };

export class RosterHolder {
  private roster: Roster | undefined;
  private note: string | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: RosterHolderDeps) {}

  current(): Roster | undefined {
    return this.roster;
  }

  currentNote(): string | undefined {
    return this.note;
  }

  /** Loads the stored roster, then tries the configured source once. */
  async load(): Promise<void> {
    const { trustRoot } = this.deps;
    if (!trustRoot) return;
    const stored = await this.deps.rosters.latestVerified(() => trustRoot);
    if (stored.status === 'verified') {
      this.roster = stored.roster;
      this.note = stored.note;
    } else if (stored.status === 'unverified') {
      this.deps.logger.error({ error: stored.error }, 'the stored roster no longer verifies against the configured trust root');
    }
    await this.refresh();
    if (this.roster) this.deps.onChange(this.roster);
  }

  start(): void {
    if (!this.deps.file && !this.deps.url) return;
    this.timer = setInterval(() => void this.refresh(), this.deps.refreshIntervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Reads the configured source and offers what it holds; failures are logged, never thrown. */
  async refresh(): Promise<void> {
    const { file, url, client, logger } = this.deps;
    let note: string | undefined;
    try {
      if (file) note = await readFile(file, 'utf8');
      else if (url) note = await client.getText(url);
    } catch (err) {
      logger.warn({ source: file ?? url, err: (err as Error).message }, 'cannot read the roster source');
      return;
    }
    if (note === undefined) return;
    const result = await this.offer(note);
    if (!result.ok) logger.warn({ source: file ?? url, error: result.error }, 'roster refused');
  }

  /** Verifies a roster note and, if it is acceptable and newer, makes it current. */
  async offer(note: string): Promise<OfferResult> {
    const { trustRoot } = this.deps;
    if (!trustRoot) return { ok: false, error: 'no trust root is configured' };
    const opened = openRoster(note, trustRoot);
    if (!opened.ok) return { ok: false, error: opened.error };
    const accepted = acceptRoster(this.roster, opened.roster);
    if (!accepted.ok) return { ok: false, error: accepted.error };
    if (this.roster && this.roster.version === opened.roster.version) return { ok: true, changed: false };
    await this.deps.rosters.add(opened.roster.version, note, this.deps.now().toISOString());
    this.roster = opened.roster;
    this.note = note;
    this.deps.logger.info({ version: opened.roster.version, members: opened.roster.members.length }, 'roster accepted');
    this.deps.onChange(opened.roster);
    return { ok: true, changed: true };
  }
}
