/**
 * In-process figures, measured inside the node child after the HTTP runs: the time per call of the
 * check path and of its parts, next to baselines measured in the same process. Operations are
 * interleaved batch by batch (round r runs a batch of each in turn), so a drift in the machine's
 * load reaches all of them alike; each figure is the median over rounds of a batch's mean time per
 * call. Batches are sized to take about the same short time for every operation (~200 µs): a long
 * batch is more likely to be preempted on a busy machine than a short one, which would penalise
 * the slow operations only.
 */
import { createHmacTokenDeriver } from '../../src/identifiers/tokens.js';
import type { JointbanNode } from '../../src/node.js';
import { Tokenizer } from '../../src/service/tokenizer.js';
import { ListingReader, type TokenQuery } from '../../src/store/listing-repository.js';
import { createEchoApp } from './echo-app.js';
import type { CheckBody } from './synthetic.js';

export interface InProcessOptions {
  rounds: number;
  /** Rounds of one call per operation, discarded; they also size each operation's batch. */
  warmupRounds: number;
  /** The time a batch should take, in µs. */
  batchUs: number;
}

export interface OpFigure {
  label: string;
  /** Median over rounds of the mean time per call in a batch, in µs. */
  medianUs: number;
  batch: number;
  calls: number;
}

export const OPS = ['check', 'tokensFor', 'fastMatch', 'matchTokens', 'authenticate', 'appCheck', 'appEcho', 'sqlite', 'json'] as const;
export type OpName = (typeof OPS)[number];

export const OP_LABELS: Record<OpName, string> = {
  check: 'checks.check(), 3 identifiers',
  tokensFor: '  of which Tokenizer.tokensForCheck() (normalise + HMAC)',
  fastMatch: '  of which TokenIndex.match() (token filter + confirming lookups)',
  matchTokens: 'ListingReader.matchTokens() (Kysely, what check() used before)',
  authenticate: 'keys.authenticate() (API key, once per request)',
  appCheck: 'app.request(POST /v1/check), no socket',
  appEcho: 'baseline: echo app.request(POST /echo), no socket',
  sqlite: 'baseline: 3 point lookups (SQLite: prepared; PostgreSQL: the pool)',
  json: 'baseline: JSON.parse(JSON.stringify(body))',
};

type Op = (i: number) => unknown;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function measureInProcess(node: JointbanNode, apiKey: string, bodies: readonly CheckBody[], options: InProcessOptions): Promise<Record<OpName, OpFigure>> {
  const { config } = node;
  // The same class and secrets as the node's own tokenizer (which CheckService keeps private).
  const tokenizer = new Tokenizer(createHmacTokenDeriver(config.epochs), config.defaultRegion);
  const reader = new ListingReader(node.database.db);
  // The baseline's point lookups on the node's engine: prepared on SQLite, one round trip each on PostgreSQL.
  const engine = node.database.engine;
  const lookups: (tokens: readonly Buffer[]) => unknown =
    engine.name === 'sqlite'
      ? (
          (statement) => (tokens) =>
            tokens.map((t) => statement.all(t))
        )(engine.sqlite.prepare('SELECT listing_id FROM listing_tokens WHERE token = ?'))
      : async (tokens) => {
          for (const t of tokens) await engine.pool.query('SELECT listing_id FROM listing_tokens WHERE token = $1', [t]);
        };
  const echo = createEchoApp();
  const parsed = bodies.map((b) => JSON.parse(b.json) as unknown);
  const queries: TokenQuery[][] = bodies.map((b) => tokenizer.tokensFor(b.identifiers).map((t) => ({ type: t.type, token: t.token, epoch: t.epoch })));
  const tokens = queries.map((qs) => qs.map((q) => Buffer.from(q.token)));
  const post = (json: string, auth: boolean): RequestInit => ({
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: `Bearer ${apiKey}` } : {}) },
    body: json,
  });
  const at = <T>(list: readonly T[], i: number): T => list[i % list.length]!;

  const ops: Record<OpName, Op> = {
    check: (i) => node.checks.check({ identifiers: at(bodies, i).identifiers }),
    tokensFor: (i) => tokenizer.tokensForCheck(at(bodies, i).identifiers),
    fastMatch: (i) => node.checkStore.tokens.match(at(queries, i), new Date().toISOString()),
    matchTokens: (i) => reader.matchTokens(at(queries, i), new Date().toISOString()),
    authenticate: () => node.keys.authenticate(apiKey),
    appCheck: async (i) => {
      const res = await node.app.request('/v1/check', post(at(bodies, i).json, true));
      if (res.status !== 200) throw new Error(`in-process check answered ${res.status}: ${await res.text()}`);
      return res.text();
    },
    appEcho: async (i) => {
      const res = await echo.request('/echo', post(at(bodies, i).json, true));
      if (res.status !== 200) throw new Error(`in-process echo answered ${res.status}`);
      return res.text();
    },
    sqlite: (i) => lookups(at(tokens, i)),
    json: (i) => JSON.parse(JSON.stringify(at(parsed, i))),
  };

  const next: Record<OpName, number> = Object.fromEntries(OPS.map((name) => [name, 0])) as Record<OpName, number>;
  /** Runs `calls` calls of one operation; returns the mean time per call in µs. */
  const time = async (name: OpName, calls: number): Promise<number> => {
    const op = ops[name];
    const started = process.hrtime.bigint();
    for (let j = 0; j < calls; j++) {
      const result = op(next[name]++);
      if (result instanceof Promise) await result;
    }
    return Number(process.hrtime.bigint() - started) / 1000 / calls;
  };

  const warmup: Record<OpName, number[]> = Object.fromEntries(OPS.map((name) => [name, [] as number[]])) as Record<OpName, number[]>;
  for (let round = 0; round < options.warmupRounds; round++) for (const name of OPS) warmup[name].push(await time(name, 1));
  const batch = Object.fromEntries(OPS.map((name) => [name, Math.min(1000, Math.max(1, Math.round(options.batchUs / Math.max(0.01, median(warmup[name])))))])) as Record<OpName, number>;

  const perCall: Record<OpName, number[]> = Object.fromEntries(OPS.map((name) => [name, [] as number[]])) as Record<OpName, number[]>;
  for (let round = 0; round < options.rounds; round++) for (const name of OPS) perCall[name].push(await time(name, batch[name]));
  return Object.fromEntries(OPS.map((name) => [name, { label: OP_LABELS[name], medianUs: median(perCall[name]), batch: batch[name], calls: options.rounds * batch[name] }])) as Record<
    OpName,
    OpFigure
  >;
}
