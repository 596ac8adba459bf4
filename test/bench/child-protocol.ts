/**
 * How the benchmark's processes talk: one JSON object per line. A server child prints one line
 * when it is ready, then answers each command line on its stdin with one line on its stdout; when
 * its stdin closes (the orchestrator is gone) it stops by itself. The parent side keeps every child
 * it started so that all of them are killed on the way out, whatever happened.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { createInterface } from 'node:readline';

export interface Command {
  cmd: string;
  [key: string]: unknown;
}

type Reply = { ok: true; result: unknown } | { ok: false; error: string };

/** Child side: CPU time this process has used so far (every thread), in µs. */
export function cpuMicros(): { user: number; system: number } {
  const { user, system } = process.cpuUsage();
  return { user, system };
}

let profiler: Session | undefined;

/**
 * Child side: `profile-start {intervalUs}` and `profile-stop {file}`, a V8 CPU profile of this
 * process between the two, written as a .cpuprofile file. `handled` is false for other commands.
 */
export async function profileCommand(command: Command): Promise<{ handled: boolean }> {
  if (command.cmd === 'profile-start') {
    if (profiler) throw new Error('a profile is already running');
    const interval = command['intervalUs'];
    profiler = new Session();
    profiler.connect();
    await profiler.post('Profiler.enable');
    await profiler.post('Profiler.setSamplingInterval', { interval: typeof interval === 'number' ? interval : 1000 });
    await profiler.post('Profiler.start');
    return { handled: true };
  }
  if (command.cmd === 'profile-stop') {
    if (!profiler) throw new Error('no profile is running');
    const { profile } = await profiler.post('Profiler.stop');
    profiler.disconnect();
    profiler = undefined;
    writeFileSync(String(command['file']), JSON.stringify(profile));
    return { handled: true };
  }
  return { handled: false };
}

/** Child side: prints the ready line. */
export function ready(info: object): void {
  process.stdout.write(`${JSON.stringify(info)}\n`);
}

/**
 * Child side: answers commands one at a time. `stop` is the handler's to implement; it runs too
 * when stdin closes. The process exits after `stop` has answered.
 */
export function serveCommands(handle: (command: Command) => Promise<unknown>): void {
  const lines = createInterface({ input: process.stdin });
  let stopping = false;
  const stop = async (): Promise<void> => {
    if (stopping) return;
    stopping = true;
    await handle({ cmd: 'stop' });
    process.exit(0);
  };
  let queue = Promise.resolve();
  lines.on('line', (line) => {
    queue = queue.then(async () => {
      const command = JSON.parse(line) as Command;
      if (command.cmd === 'stop') {
        process.stdout.write(`${JSON.stringify({ ok: true, result: null } satisfies Reply)}\n`);
        return stop();
      }
      let reply: Reply;
      try {
        reply = { ok: true, result: await handle(command) };
      } catch (err) {
        reply = { ok: false, error: err instanceof Error ? (err.stack ?? err.message) : String(err) };
      }
      process.stdout.write(`${JSON.stringify(reply)}\n`);
    });
  });
  lines.on('close', () => void queue.then(stop));
}

/** Parent side: every child process this run started, killed in `killAll`. */
const children = new Set<ChildProcess>();

export function spawnTracked(args: string[], stdio: 'pipe' | 'load'): ChildProcess {
  const child = spawn(process.execPath, args, { stdio: stdio === 'pipe' ? ['pipe', 'pipe', 'inherit'] : ['ignore', 'pipe', 'inherit'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

export function killAll(): void {
  for (const child of children) child.kill('SIGKILL');
  children.clear();
}

/** Parent side: a server child; `start` resolves with its ready line. */
export class ServerChild<Ready> {
  private readonly waiting: ((line: string) => void)[] = [];
  private readonly exited: Promise<number | null>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    readonly info: Ready,
    lines: AsyncIterator<string>,
  ) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    void (async () => {
      for (;;) {
        const next = await lines.next();
        if (next.done) break;
        this.waiting.shift()?.(next.value);
      }
    })();
  }

  static async start<Ready>(name: string, script: string, args: object): Promise<ServerChild<Ready>> {
    const child = spawnTracked([script, JSON.stringify(args)], 'pipe');
    if (!child.stdout) throw new Error(`${name}: no stdout`);
    const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const exit = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${name} exited (${String(code)}) before it was ready`))));
    const first = await Promise.race([lines.next(), exit]);
    if (first.done) throw new Error(`${name} closed its output before it was ready`);
    return new ServerChild<Ready>(name, child, JSON.parse(first.value) as Ready, lines);
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  async command<T>(command: Command): Promise<T> {
    const line = await new Promise<string>((resolve, reject) => {
      this.waiting.push(resolve);
      void this.exited.then((code) => reject(new Error(`${this.name} exited (${String(code)}) during "${command.cmd}"`)));
      this.child.stdin?.write(`${JSON.stringify(command)}\n`);
    });
    const reply = JSON.parse(line) as Reply;
    if (!reply.ok) throw new Error(`${this.name} failed "${command.cmd}": ${reply.error}`);
    return reply.result as T;
  }

  /** Asks the child to stop and waits for it; kills it if it has not gone within 15 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 15_000);
    try {
      await this.command({ cmd: 'stop' }).catch(() => undefined);
      await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
