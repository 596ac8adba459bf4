/**
 * Delivers watch events to the platform's webhook (docs/EVENTS.md, "Webhook"), and prunes events
 * past their retention. At-least-once: the delivery state lives in SQLite next to the event, an
 * event is marked delivered only after a 2xx, and an attempt cut short by a stop is not counted,
 * so a restart sends it again. Events go out one per POST in id order; a failing event holds the
 * later ones back until it is delivered or, after `maxAttempts`, dead-lettered.
 *
 * Signature: `Jointban-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`,
 * over the exact body bytes sent. The secret is never logged, nor the webhook URL's path or query.
 */
import type { Kysely } from 'kysely';
import type { Logger } from 'pino';
import { boundedFetch, BoundedFetchError } from '../common/bounded-fetch.js';
import { hmacSha256 } from '../crypto/index.js';
import { toHex, utf8 } from '../crypto/encoding.js';
import { EventDeliveryRepository, type EventRow } from '../store/watch-repository.js';
import type { Database } from '../store/tables.js';
import type { WatchService } from './watch.js';

export const SIGNATURE_HEADER = 'jointban-signature';
export const EVENT_ID_HEADER = 'jointban-event-id';

export interface WebhookOptions {
  url: string;
  secret: Uint8Array;
  timeoutMs: number;
  maxAttempts: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  pollIntervalMs: number;
}

export type DeliveryOutcome = 'delivered' | 'failed' | 'dead_lettered';
export type FailureReason = 'http_status' | 'timeout' | 'network';

/** What the worker reports to Prometheus (src/metrics.ts). */
export interface WebhookMetrics {
  countWebhook(outcome: DeliveryOutcome, failure?: FailureReason, lagSeconds?: number): void;
}

export interface EventWorkerDeps {
  db: Kysely<Database>;
  watch: WatchService;
  /** Absent: events are kept for GET /v1/events only, and nothing is sent. */
  webhook?: WebhookOptions | undefined;
  retentionDays: number;
  now: () => Date;
  logger: Logger;
  metrics?: WebhookMetrics | undefined;
  /** Jitter source in [0, 1); a test can fix it. */
  random?: () => number;
}

const DAY_MS = 86_400_000;
const PRUNE_INTERVAL_MS = 3_600_000;

/** The header value for a body sent at `timestamp` (unix seconds). */
export function webhookSignature(secret: Uint8Array, timestamp: number, body: string): string {
  return `t=${timestamp},v1=${toHex(hmacSha256(secret, utf8(`${timestamp}.${body}`)))}`;
}

/**
 * The wait before attempt `failures + 1`: exponential from `base`, capped at `max`, with "equal
 * jitter" (half fixed, half random) so receivers recovering from an outage are not hit in step.
 */
export function retryDelayMs(failures: number, base: number, max: number, random: () => number): number {
  const exp = Math.min(max, base * 2 ** Math.max(0, failures - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

export class EventWorker {
  private readonly repo: EventDeliveryRepository;
  private timer: NodeJS.Timeout | undefined;
  private pruneTimer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopping = false;
  private abort = new AbortController();

  constructor(private readonly deps: EventWorkerDeps) {
    this.repo = new EventDeliveryRepository(deps.db);
  }

  start(): void {
    this.stopping = false;
    this.abort = new AbortController();
    void this.prune();
    this.pruneTimer = setInterval(() => void this.prune(), PRUNE_INTERVAL_MS);
    this.pruneTimer.unref();
    if (this.deps.webhook) this.schedule(0);
  }

  /** Stops after the attempt in flight is cut short; that attempt is not counted (sent again on restart). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    clearInterval(this.pruneTimer);
    this.abort.abort();
    await this.running;
  }

  /** Deletes events older than the retention; returns how many. */
  async prune(): Promise<number> {
    try {
      const before = new Date(this.deps.now().getTime() - this.deps.retentionDays * DAY_MS).toISOString();
      const pruned = await this.repo.prune(before);
      if (pruned > 0) this.deps.logger.info({ pruned, before }, 'old watch events pruned');
      return pruned;
    } catch (err) {
      this.deps.logger.error({ err: (err as Error).message }, 'pruning watch events failed');
      return 0;
    }
  }

  private schedule(ms: number): void {
    if (this.stopping) return;
    this.timer = setTimeout(() => {
      this.running = this.tick();
    }, ms);
  }

  private async tick(): Promise<void> {
    const poll = this.deps.webhook?.pollIntervalMs ?? 1000;
    let wait = poll;
    try {
      wait = await this.deliverDue();
    } catch (err) {
      if (!this.stopping) this.deps.logger.error({ err: (err as Error).message }, 'webhook delivery round failed');
    }
    this.schedule(wait);
  }

  /** Sends due events in order until none is due; returns how long to wait before looking again. */
  private async deliverDue(): Promise<number> {
    const webhook = this.deps.webhook!;
    for (;;) {
      if (this.stopping) return webhook.pollIntervalMs;
      const event = await this.repo.nextPending();
      if (!event) return webhook.pollIntervalMs;
      const wait = Date.parse(event.nextAttemptAt) - this.deps.now().getTime();
      if (wait > 0) return Math.min(wait, webhook.pollIntervalMs);
      await this.attempt(webhook, event);
    }
  }

  private async attempt(webhook: WebhookOptions, event: EventRow): Promise<void> {
    const body = JSON.stringify(this.deps.watch.view(event));
    const sentAt = this.deps.now();
    const timestamp = Math.floor(sentAt.getTime() / 1000);
    let error: string;
    let reason: FailureReason;
    try {
      // The deadline covers the whole answer and is held here (bounded-fetch.ts): a receiver that
      // trickles its status line cannot hold back every later event.
      const res = await boundedFetch(webhook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          [SIGNATURE_HEADER]: webhookSignature(webhook.secret, timestamp, body),
          [EVENT_ID_HEADER]: String(event.id),
        },
        body,
        timeoutMs: webhook.timeoutMs,
        maxBytes: 0,
        discardBody: true,
        signal: this.abort.signal,
      });
      if (res.status >= 200 && res.status < 300) {
        const at = this.deps.now();
        await this.repo.markDelivered(event.id, at.toISOString());
        this.deps.metrics?.countWebhook('delivered', undefined, Math.max(0, (at.getTime() - Date.parse(event.time)) / 1000));
        return;
      }
      error = `HTTP ${res.status}`;
      reason = 'http_status';
    } catch (err) {
      if (this.stopping) return;
      if (!(err instanceof BoundedFetchError)) throw err;
      reason = err.kind === 'timeout' ? 'timeout' : 'network';
      // The code, not the message: the message may name the URL, whose path and query are secret.
      error = reason === 'timeout' ? `no response within ${webhook.timeoutMs} ms` : `network error (${err.code ?? err.kind})`;
    }
    const attempts = event.attempts + 1;
    const dead = attempts >= webhook.maxAttempts;
    const next = new Date(this.deps.now().getTime() + retryDelayMs(attempts, webhook.backoffBaseMs, webhook.backoffMaxMs, this.deps.random ?? Math.random));
    await this.repo.markFailed(event.id, attempts, next.toISOString(), error, dead);
    this.deps.metrics?.countWebhook(dead ? 'dead_lettered' : 'failed', reason);
    this.deps.logger.warn({ event: event.id, attempts, error, deadLettered: dead, ...(dead ? {} : { retryAt: next.toISOString() }) }, 'webhook delivery failed');
  }
}
