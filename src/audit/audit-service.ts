/**
 * The audit side of a node: builds the report for a window from the node's own store. Used by
 * `GET /v1/audit/report` and by `jointban report`; both go through here so they give the same
 * numbers. Before a report the in-memory check counts are flushed, so it includes every check
 * served up to the moment it is made.
 */
import type { Kysely } from 'kysely';
import type { CheckCounter } from '../service/check-counter.js';
import { AuditRepository } from '../store/audit-repository.js';
import { CheckCountRepository } from '../store/check-count-repository.js';
import type { Database } from '../store/tables.js';
import type { AuditReport } from './report-types.js';
import { computeAuditReport } from './statistics.js';
import type { AuditWindow } from './window.js';

export interface AuditServiceDeps {
  db: Kysely<Database>;
  federation: string;
  member: string;
  categories: readonly string[];
  now: () => Date;
  /** The platforms to report even when they did nothing in the window (the roster's members). */
  members: () => readonly string[];
  /** The running node's check counter, flushed before each report; absent for an offline report. */
  counter?: CheckCounter | undefined;
}

export class AuditService {
  private readonly audit: AuditRepository;
  private readonly checkCounts: CheckCountRepository;

  constructor(private readonly deps: AuditServiceDeps) {
    this.audit = new AuditRepository(deps.db);
    this.checkCounts = new CheckCountRepository(deps.db);
  }

  async report(window: AuditWindow): Promise<AuditReport> {
    const { deps } = this;
    await deps.counter?.flush();
    return computeAuditReport({
      audit: this.audit,
      checkCounts: this.checkCounts,
      federation: deps.federation,
      member: deps.member,
      members: deps.members(),
      categories: deps.categories,
      window,
      generatedAt: deps.now().toISOString(),
    });
  }
}
