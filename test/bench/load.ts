/**
 * The load generator child: one autocannon run against one URL, then one JSON line with the
 * figures. It runs in its own process so that its CPU time never counts as the server's.
 *
 * Bodies: a pool of distinct check bodies (synthetic.ts, the same seed as the node's sanity
 * checks), handed out in turn across all connections through autocannon's `setupRequest`, so no
 * two requests in a row carry the same identifiers. The echo run sends the very same bytes.
 */
import autocannon from 'autocannon';
import { checkBodies } from './synthetic.js';

export interface LoadArgs {
  url: string;
  /** Sent as `Authorization: Bearer …` to both servers, so requests are the same size. */
  key: string;
  connections: number;
  durationS: number;
  listed: number;
  pool: number;
  seed: number;
}

export interface LoadFigures {
  url: string;
  durationS: number;
  requests: number;
  requestsPerSec: number;
  latencyMs: { p50: number; p90: number; p99: number; average: number; max: number };
  errors: number;
  timeouts: number;
  non2xx: number;
  statusCodes: Record<string, number>;
  /** The load generator's own CPU time over the run, as a share of one core. */
  generatorCpu: number;
}

const args = JSON.parse(process.argv[2] ?? '{}') as LoadArgs;
const bodies = checkBodies(args.listed, args.pool, args.seed).map((b) => b.json);
let next = 0;

/** Latencies of 2xx responses at full resolution: autocannon's own histogram keeps whole ms. */
const latencies: number[] = [];
const cpuBefore = process.cpuUsage();
const wallBefore = performance.now();
const result = await autocannon({
  url: args.url,
  method: 'POST',
  connections: args.connections,
  duration: args.durationS,
  headers: { 'content-type': 'application/json', authorization: `Bearer ${args.key}` },
  requests: [{ setupRequest: (request) => ({ ...request, body: bodies[next++ % bodies.length]! }) }],
}).on('response', (_client, status, _bytes, ms) => {
  if (status >= 200 && status < 300) latencies.push(ms);
});
const cpu = process.cpuUsage(cpuBefore);
const wallMs = performance.now() - wallBefore;

latencies.sort((a, b) => a - b);
const percentile = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
const figures: LoadFigures = {
  url: args.url,
  durationS: result.duration,
  requests: result.requests.total,
  requestsPerSec: result.requests.total / result.duration,
  latencyMs: {
    p50: percentile(50),
    p90: percentile(90),
    p99: percentile(99),
    average: latencies.reduce((sum, ms) => sum + ms, 0) / Math.max(1, latencies.length),
    max: latencies.at(-1) ?? 0,
  },
  errors: result.errors,
  timeouts: result.timeouts,
  non2xx: result.non2xx,
  statusCodes: Object.fromEntries(Object.entries(result.statusCodeStats).map(([code, s]) => [code, s.count])),
  generatorCpu: (cpu.user + cpu.system) / 1000 / wallMs,
};
process.stdout.write(`${JSON.stringify(figures)}\n`);
