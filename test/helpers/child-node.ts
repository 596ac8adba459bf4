/**
 * A node as a child process: the real `jointban start --data-dir DIR` on the build output
 * (test/helpers/build.ts compiles it), on the fixed host and port of its data directory's config,
 * so that a test can SIGKILL it at any moment and start it again on the same data. Crash tests
 * need a separate process: only a process that dies takes its unflushed state with it the way a
 * power cut or the OOM killer does.
 *
 * To run one member of a `createFederation` this way, stop it in-process (`fed.stopNode('alpha')`
 * keeps its data directory and frees its port) and `startChildNode({ dataDir: alpha.dataDir })`.
 * Children still alive when the test process exits are killed, so a failed test leaves no node
 * behind holding a port.
 *
 * Loading the build output takes seconds on a busy machine, and a crash test restarts dozens of
 * times. `prewarm()` therefore spawns the next process ahead of time with a preload (`--import`)
 * that imports every module `main.js` imports and then waits for one line on stdin; `start()`
 * releases it, and it runs `main.js start` from there with its modules already loaded. A warm
 * process touches neither the data directory nor the port until released, so it can be spawned
 * while the previous one is still running: the crash and restart semantics are unchanged.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadConfig } from '../../src/config/load.js';
import { CLI, ROOT } from './cli.js';

export interface ChildNodeOptions {
  dataDir: string;
  /** Extra environment (JOINTBAN_LOG_LEVEL=warn, say); every other JOINTBAN_* variable is removed. */
  env?: Record<string, string>;
  /** Bound on polling /healthz and /readyz after a start (default 60 s: the build output loads slowly on a busy CI machine). */
  readyTimeoutMs?: number;
  /** Characters of stdout+stderr kept for failure messages (default 16 KiB). */
  keepOutput?: number;
}

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface ChildNode {
  readonly dataDir: string;
  /** `http://host:port` from the data directory's config. */
  readonly url: string;
  /** The pid of the running process, undefined when none runs. */
  readonly pid: number | undefined;
  readonly running: boolean;
  /** How many times the process was started, and killed with SIGKILL. */
  readonly starts: number;
  readonly kills: number;
  /**
   * Spawns the node and waits until it answers `/healthz` and then `/readyz` (its federation part,
   * including the checkpoint it signs at start for entries a crash left unsigned, is up). Fails
   * with the process output if it exits first or the bound is reached.
   */
  start(): Promise<void>;
  /** Spawns (or releases the warm process) and returns at once, for kills that land during start-up. */
  spawnOnly(): void;
  /** Spawns the next process now, loaded and waiting, for the next `start` or `spawnOnly`. */
  prewarm(): void;
  /** Waits for /healthz then /readyz of a spawned node (what `start` does after spawning). */
  waitReady(): Promise<void>;
  /** SIGKILL: no handler runs, nothing is flushed. Resolves once the process is gone. */
  kill(): Promise<ChildExit>;
  /** SIGTERM: the node's graceful shutdown. Resolves with its exit status once it is gone. */
  stop(): Promise<ChildExit>;
  /** The tail of everything the process printed (all starts), for failure messages. */
  output(): string;
  /** SIGKILLs the running and the warm process, if any. */
  dispose(): Promise<void>;
}

const live = new Set<ChildProcess>();
let gateDir: string | undefined;

/**
 * The preload of a warm process: imports what main.js imports (relative imports; their packages
 * come with them), then waits for the go-ahead on stdin. Exits if stdin closes first.
 */
const GATE = `import { readFileSync } from 'node:fs';
const main = process.env.CHILD_NODE_PRELOAD_MAIN;
const source = readFileSync(new URL(main), 'utf8');
for (const m of source.matchAll(/^import .* from (["'])(\\.{1,2}\\/.+?)\\1;$/gm)) await import(new URL(m[2], main).href);
await new Promise((resolve) => {
  const orphaned = () => process.exit(0);
  process.stdin.once('end', orphaned);
  process.stdin.once('data', () => {
    process.stdin.off('end', orphaned);
    resolve();
  });
});
process.stdin.destroy();
`;

/** Writes the preload once per test process; children are killed and it is removed at exit. */
function gateFile(): string {
  if (gateDir === undefined) {
    gateDir = mkdtempSync(join(tmpdir(), 'jointban-child-gate-'));
    writeFileSync(join(gateDir, 'gate.mjs'), GATE);
    const dir = gateDir;
    process.once('exit', () => {
      for (const child of live) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });
  }
  return join(gateDir, 'gate.mjs');
}

function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('JOINTBAN_')) env[name] = value;
  }
  return { ...env, ...extra };
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export function childNode(options: ChildNodeOptions): ChildNode {
  const config = loadConfig(options.dataDir, {});
  const host = config.http.host.includes(':') ? `[${config.http.host}]` : config.http.host;
  if (config.http.port === 0) throw new Error(`${options.dataDir}: a child node needs a fixed port in its config, not 0`);
  const url = `http://${host}:${config.http.port}`;
  const keep = options.keepOutput ?? 16_384;
  const readyTimeoutMs = options.readyTimeoutMs ?? 60_000;
  let out = '';
  let child: ChildProcess | undefined;
  let exited: Promise<ChildExit> | undefined;
  let standby: { proc: ChildProcess; exited: Promise<ChildExit> } | undefined;
  let starts = 0;
  let kills = 0;

  const record = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > keep * 2) out = out.slice(-keep);
  };

  const prewarm = () => {
    if (standby && standby.proc.exitCode === null && standby.proc.signalCode === null) return;
    const proc = spawn(process.execPath, ['--import', pathToFileURL(gateFile()).href, CLI, 'start', '--data-dir', options.dataDir], {
      cwd: ROOT,
      env: { ...childEnv(options.env ?? {}), CHILD_NODE_PRELOAD_MAIN: pathToFileURL(CLI).href },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    proc.stdout?.on('data', record);
    proc.stderr?.on('data', record);
    proc.stdin?.on('error', () => undefined);
    live.add(proc);
    const done = new Promise<ChildExit>((resolve) => {
      proc.once('exit', (code, signal) => {
        live.delete(proc);
        if (child === proc) child = undefined;
        if (standby?.proc === proc) standby = undefined;
        out += `\n--- exit code=${String(code)} signal=${String(signal)} ---\n`;
        resolve({ code, signal });
      });
    });
    standby = { proc, exited: done };
  };

  const spawnOnly = () => {
    if (child) throw new Error(`child node on ${url} is already running (pid ${child.pid})`);
    prewarm();
    const warm = standby!;
    standby = undefined;
    starts += 1;
    out += `\n--- start ${starts} ---\n`;
    child = warm.proc;
    exited = warm.exited;
    warm.proc.stdin?.write('go\n');
  };

  /** One GET with its own bound; undefined on any failure (refused, reset, timeout). */
  const probe = async (path: string): Promise<number | undefined> => {
    try {
      const res = await fetch(`${url}${path}`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      return res.status;
    } catch {
      return undefined;
    }
  };

  const waitReady = async () => {
    const proc = child;
    if (!proc) throw new Error(`child node on ${url} is not running`);
    const deadline = Date.now() + readyTimeoutMs;
    let healthy = false;
    let attempts = 0;
    for (;;) {
      if (child !== proc) throw new Error(`child node on ${url} exited before it was ready:\n${out.slice(-4000)}`);
      attempts += 1;
      if (!healthy) healthy = (await probe('/healthz')) === 200;
      if (healthy && (await probe('/readyz')) === 200) return;
      if (Date.now() > deadline) {
        throw new Error(`child node on ${url} not ready after ${attempts} polls of /healthz and /readyz (${readyTimeoutMs} ms):\n${out.slice(-4000)}`);
      }
      await sleep(20);
    }
  };

  const signal = async (sig: NodeJS.Signals): Promise<ChildExit> => {
    const proc = child;
    const done = exited;
    if (!proc || !done) throw new Error(`child node on ${url} is not running`);
    proc.kill(sig);
    return done;
  };

  return {
    dataDir: options.dataDir,
    url,
    get pid() {
      return child?.pid;
    },
    get running() {
      return child !== undefined;
    },
    get starts() {
      return starts;
    },
    get kills() {
      return kills;
    },
    async start() {
      spawnOnly();
      await waitReady();
    },
    spawnOnly,
    prewarm,
    waitReady,
    async kill() {
      const result = await signal('SIGKILL');
      kills += 1;
      return result;
    },
    stop: () => signal('SIGTERM'),
    output: () => out.slice(-keep),
    async dispose() {
      const waits: Promise<ChildExit>[] = [];
      for (const p of [child && exited ? { proc: child, exited } : undefined, standby]) {
        if (!p) continue;
        p.proc.kill('SIGKILL');
        waits.push(p.exited);
      }
      await Promise.all(waits);
    },
  };
}
