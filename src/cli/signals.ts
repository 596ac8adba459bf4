/**
 * The one place the CLI handles SIGINT and SIGTERM (`start`, `demo`, and the bulk commands
 * `import` and `rescan`). The first signal asks for a graceful stop; the handlers are then removed,
 * so a second signal ends the process at once (Node's default), for an operator who will not wait.
 */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;

export interface StopRequest {
  /** Aborted at the first signal: for work that stops after its current step. */
  readonly signal: AbortSignal;
  /** Resolves with the first signal received; never rejects. */
  readonly received: Promise<NodeJS.Signals>;
  /** Stops listening (the work finished without a signal); a signal then has Node's default effect. */
  dispose(): void;
}

/** Listens for the first SIGINT or SIGTERM; `onStop` runs once, when it arrives. */
export function stopOnSignal(onStop?: (signal: NodeJS.Signals) => void): StopRequest {
  const controller = new AbortController();
  let resolveReceived: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => (resolveReceived = resolve));
  const dispose = () => {
    for (const name of STOP_SIGNALS) process.off(name, handler);
  };
  function handler(signal: NodeJS.Signals): void {
    dispose();
    onStop?.(signal);
    controller.abort();
    resolveReceived(signal);
  }
  for (const name of STOP_SIGNALS) process.on(name, handler);
  return { signal: controller.signal, received, dispose };
}
