/**
 * Prometheus metrics (prom-client), one registry per node so several nodes in one process (the
 * demo, the tests) do not mix their figures. Services record what happened through the small
 * `Metrics` interface; federation figures are read from the node's status at scrape time, so
 * nothing on the sync path pays for them. Labels never carry identifiers, tokens or keys.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { FederationStatus } from './federation/federation.js';
import type { EventsStatus } from './service/watch.js';
import type { WebhookMetrics } from './service/webhook.js';
import { importRunning, type ImportStatus } from './jobs/import-status.js';

export interface Metrics extends WebhookMetrics {
  readonly registry: Registry;
  observeCheck(purpose: string, decision: string, seconds: number): void;
  countListing(kind: 'listing' | 'retraction', count?: number): void;
}

/**
 * @param importStatus the last `jointban import`'s totals, read at scrape time (the import runs in
 * its own process and writes them to the database: jobs/import-status.ts).
 */
export function createMetrics(status: () => Promise<FederationStatus>, events?: () => Promise<EventsStatus>, importStatus?: () => Promise<ImportStatus | undefined>): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'jointban_' });

  // Gauges filled from the federation status when Prometheus scrapes. The registry collects all
  // metrics concurrently, so the status is read once per scrape and shared by every gauge.
  let pending: Promise<FederationStatus | undefined> | undefined;
  const snapshot = (): Promise<FederationStatus | undefined> => {
    pending ??= status()
      .catch(() => undefined)
      .finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  new Gauge({
    name: 'jointban_federation_status_ok',
    help: '1 when the federation status could be read at scrape time.',
    registers: [registry],
    async collect() {
      this.set((await snapshot()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'jointban_log_size',
    help: 'Entries held per origin log.',
    labelNames: ['origin'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const o of (await snapshot())?.origins ?? []) this.set({ origin: o.origin }, o.size);
    },
  });
  new Gauge({
    name: 'jointban_sync_lag_entries',
    help: 'Entries a peer advertised beyond what this node holds, per origin and peer.',
    labelNames: ['origin', 'peer'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const o of (await snapshot())?.origins ?? []) for (const [peer, n] of Object.entries(o.lagByPeer)) this.set({ origin: o.origin, peer }, n);
    },
  });
  new Gauge({
    name: 'jointban_sync_peer_consecutive_failures',
    help: 'Consecutive failed sync rounds per peer.',
    labelNames: ['peer'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of (await snapshot())?.peers ?? []) this.set({ peer: p.member }, p.consecutiveFailures);
    },
  });
  new Gauge({
    name: 'jointban_checkpoint_signing_refused',
    help: '1 while the node signs no checkpoint of its own log: the roster makes none of its keys valid.',
    registers: [registry],
    async collect() {
      this.set((await snapshot())?.signingRefused ? 1 : 0);
    },
  });
  new Gauge({
    name: 'jointban_token_epoch_held',
    help: 'One series per token epoch this node holds (the epoch number as a label, never its secret), each 1.',
    labelNames: ['epoch'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const e of (await snapshot())?.epochs.held ?? []) this.set({ epoch: String(e) }, 1);
    },
  });
  new Gauge({
    name: 'jointban_peer_token_epochs_missing',
    help: 'Token epochs this node holds that a peer does not name in its checkpoint list (0 when it holds them all; absent while unknown).',
    labelNames: ['peer'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const m of (await snapshot())?.epochs.members ?? []) if (m.held !== null) this.set({ peer: m.member }, m.missing.length);
    },
  });
  new Gauge({
    name: 'jointban_sync_peer_failed_rounds',
    help: 'Failed sync rounds per peer since the node started; a request or ingest past its deadline counts.',
    labelNames: ['peer'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const p of (await snapshot())?.peers ?? []) this.set({ peer: p.member }, p.failedRounds);
    },
  });
  new Gauge({
    name: 'jointban_misbehaviour_recorded',
    help: 'Misbehaviour records shown by the status (latest 100), by kind.',
    labelNames: ['kind'],
    registers: [registry],
    async collect() {
      this.reset();
      for (const m of (await snapshot())?.misbehaviour ?? []) this.inc({ kind: m.kind });
    },
  });

  // Watch events and webhook delivery (docs/EVENTS.md): stored counts read at scrape time.
  if (events) {
    let pendingEvents: Promise<EventsStatus | undefined> | undefined;
    const eventsSnapshot = (): Promise<EventsStatus | undefined> => {
      pendingEvents ??= events()
        .catch(() => undefined)
        .finally(() => setImmediate(() => (pendingEvents = undefined)));
      return pendingEvents;
    };
    new Gauge({
      name: 'jointban_watch_events',
      help: 'Watch events stored, by delivery state (pending, delivered, dead).',
      labelNames: ['state'],
      registers: [registry],
      async collect() {
        const s = await eventsSnapshot();
        this.reset();
        if (!s) return;
        this.set({ state: 'pending' }, s.pending);
        this.set({ state: 'delivered' }, s.delivered);
        this.set({ state: 'dead' }, s.deadLetters);
      },
    });
    new Gauge({
      name: 'jointban_watch_references_lacking_newest_epoch',
      help: 'Watched references with no token under the newest epoch held: re-send them with PUT /v1/watch after an epoch rotation.',
      registers: [registry],
      async collect() {
        this.set((await eventsSnapshot())?.watchedLackingNewestEpoch ?? 0);
      },
    });
    new Gauge({
      name: 'jointban_webhook_dead_letters',
      help: 'Events dead-lettered after maxAttempts failed deliveries, awaiting a redrive.',
      registers: [registry],
      async collect() {
        this.set((await eventsSnapshot())?.deadLetters ?? 0);
      },
    });
    new Gauge({
      name: 'jointban_webhook_delivery_lag_seconds',
      help: 'Age of the oldest event not yet delivered (0 when none is pending).',
      registers: [registry],
      async collect() {
        this.set((await eventsSnapshot())?.lagSeconds ?? 0);
      },
    });
  }
  const webhookDeliveries = new Counter({
    name: 'jointban_webhook_deliveries_total',
    help: 'Webhook delivery attempts by outcome: delivered, failed (will retry), dead_lettered.',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const webhookFailures = new Counter({
    name: 'jointban_webhook_failures_total',
    help: 'Failed webhook delivery attempts by reason: http_status, timeout, network.',
    labelNames: ['reason'],
    registers: [registry],
  });
  const webhookLatency = new Histogram({
    name: 'jointban_webhook_delivered_after_seconds',
    help: 'Time from an event being recorded to its successful delivery.',
    buckets: [0.05, 0.25, 1, 5, 30, 120, 600, 3600, 21600, 86400],
    registers: [registry],
  });
  if (importStatus) registerImportGauges(registry, importStatus);

  const checkSeconds = new Histogram({
    name: 'jointban_check_duration_seconds',
    help: 'Time to answer a check (normalise, tokens, lookup, policy), by purpose and decision.',
    labelNames: ['purpose', 'decision'],
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
    registers: [registry],
  });
  const checks = new Counter({ name: 'jointban_checks_total', help: 'Checks answered, by purpose and decision.', labelNames: ['purpose', 'decision'], registers: [registry] });
  const appended = new Counter({ name: 'jointban_own_log_entries_total', help: "Entries appended to this node's own log, by kind.", labelNames: ['kind'], registers: [registry] });

  return {
    registry,
    observeCheck(purpose, decision, seconds) {
      checkSeconds.observe({ purpose, decision }, seconds);
      checks.inc({ purpose, decision });
    },
    countListing(kind, count = 1) {
      appended.inc({ kind }, count);
    },
    countWebhook(outcome, failure, lagSeconds) {
      webhookDeliveries.inc({ outcome });
      if (failure) webhookFailures.inc({ reason: failure });
      if (lagSeconds !== undefined) webhookLatency.observe(lagSeconds);
    },
  };
}

/** The last bulk import's totals and times; absent until an import has run on this data directory. */
function registerImportGauges(registry: Registry, importStatus: () => Promise<ImportStatus | undefined>): void {
  let pending: Promise<ImportStatus | undefined> | undefined;
  const read = (): Promise<ImportStatus | undefined> => {
    pending ??= importStatus()
      .catch(() => undefined)
      .finally(() => setImmediate(() => (pending = undefined)));
    return pending;
  };
  const seconds = (iso: string) => Date.parse(iso) / 1000;
  new Gauge({
    name: 'jointban_import_rows',
    help: 'Rows of the last (or running) jointban import, by outcome: read, listed, skipped, rejected.',
    labelNames: ['outcome'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await read();
      if (!s) return;
      this.set({ outcome: 'read' }, s.rows);
      this.set({ outcome: 'listed' }, s.listed);
      this.set({ outcome: 'skipped' }, s.skipped);
      this.set({ outcome: 'rejected' }, s.rejected);
    },
  });
  new Gauge({
    name: 'jointban_import_running',
    help: '1 while a jointban import is running on this data directory (it reported within the last 30 s and has not ended).',
    registers: [registry],
    async collect() {
      const s = await read();
      this.set(s && importRunning(s, new Date()) ? 1 : 0);
    },
  });
  new Gauge({
    name: 'jointban_import_timestamp_seconds',
    help: 'Times of the last jointban import, by event: started, updated (its last report), finished (absent while it runs).',
    labelNames: ['event'],
    registers: [registry],
    async collect() {
      this.reset();
      const s = await read();
      if (!s) return;
      this.set({ event: 'started' }, seconds(s.startedAt));
      this.set({ event: 'updated' }, seconds(s.updatedAt));
      if (s.finishedAt !== null) this.set({ event: 'finished' }, seconds(s.finishedAt));
    },
  });
}
