/**
 * The real `jointban` command as a child process, on the build output (test/helpers/build.ts
 * compiles it before the integration and faults projects run). The environment is the test runner's minus every JOINTBAN_*
 * variable, so a developer's shell settings cannot change what a test sees.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { testDatabaseSection, testEngine } from './engine.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = join(ROOT, 'dist', 'src', 'cli', 'main.js');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

function childEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && !name.startsWith('JOINTBAN_')) env[name] = value;
  }
  return { ...env, ...extra };
}

function spawnCli(args: string[], env: Record<string, string>): { child: ChildProcess; done: Promise<CliResult>; stdout: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const done = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done, stdout: () => stdout };
}

/**
 * `jointban init` on a PostgreSQL run (test/helpers/engine.ts) gets `--database-url` of a fresh
 * database, so the node it makes keeps its data where every other node of the run does; the
 * cluster, removed at the end of the run, takes the database with it.
 */
async function onRunEngine(args: string[]): Promise<string[]> {
  if (args[0] !== 'init' || args.includes('--database-url') || testEngine() !== 'postgres') return args;
  const { url } = await testDatabaseSection();
  return [...args, '--database-url', url!];
}

/** Runs `jointban <args>` to completion. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return spawnCli(await onRunEngine(args), env).done;
}

/** Runs `jointban <args>` and parses its stdout as JSON (the commands that print a result). */
export async function runCliJson<T>(args: string[], env: Record<string, string> = {}): Promise<T> {
  const result = await runCli(args, env);
  if (result.code !== 0) throw new Error(`jointban ${args.join(' ')} exited ${String(result.code)}: ${result.stderr}`);
  return JSON.parse(result.stdout) as T;
}

export interface RunningCli {
  child: ChildProcess;
  /** The URL from the "listening on" line. */
  url: string;
  /** Resolves when the process has exited. */
  done: Promise<CliResult>;
}

/** Starts `jointban start <args>` and waits until it says where it listens (or exits early). */
export async function startCli(args: string[], env: Record<string, string> = {}): Promise<RunningCli> {
  const run = spawnCli(['start', ...args], env);
  const url = await new Promise<string>((resolve, reject) => {
    const look = () => {
      const match = /listening on (http:\/\/\S+)/.exec(run.stdout());
      if (match) resolve(match[1]!);
    };
    run.child.stdout?.on('data', look);
    run.done.then((r) => reject(new Error(`jointban start exited ${String(r.code)} before listening: ${r.stderr}`)), reject);
  });
  return { child: run.child, url, done: run.done };
}
