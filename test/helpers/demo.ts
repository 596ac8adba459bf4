/**
 * `jointban demo --json` as a child process on the built CLI, for the demo's CLI tests: spawned
 * with the given environment (the tests give it its own TMPDIR) and read until its one summary
 * line, the stdout line that is JSON with a `nodes` array (its warn-level logs are JSON lines too).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, ROOT } from './cli.js';
import { waitFor } from './federation.js';

export interface DemoSummary {
  association: { member: string; url: string; apiKey: string };
  nodes: { member: string; url: string; apiKeys: { check: string; write: string; admin: string } }[];
}

export interface RunningDemo {
  proc: ChildProcess;
  /** Resolves once the process has exited. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderr(): string;
  /** Waits for the summary line (30 s at most); fails if the demo exits first. */
  summary(): Promise<DemoSummary>;
}

function env(extra: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('JOINTBAN_')) out[k] = v;
  return { ...out, ...extra };
}

/** Spawns `jointban demo --json <args>` with every JOINTBAN_* variable removed and `extraEnv` added. */
export function spawnDemo(args: string[], extraEnv: Record<string, string>): RunningDemo {
  const proc = spawn(process.execPath, [CLI, 'demo', '--json', ...args], { cwd: ROOT, env: env(extraEnv), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (c: Buffer) => (stdout += c.toString('utf8')));
  proc.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => proc.once('close', (code, signal) => resolve({ code, signal })));
  const summary = () =>
    waitFor(
      () => {
        if (proc.exitCode !== null) throw new Error(`demo exited ${proc.exitCode}: ${stderr}`);
        for (const line of stdout.split('\n')) {
          try {
            const value = JSON.parse(line) as Partial<DemoSummary>;
            if (Array.isArray(value.nodes)) return value as DemoSummary;
          } catch {
            // not a complete JSON line yet
          }
        }
        return undefined;
      },
      { timeoutMs: 30_000, message: `the demo's JSON line (stderr: ${stderr})` },
    );
  return { proc, exited, stderr: () => stderr, summary };
}
