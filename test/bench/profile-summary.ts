/**
 * Summarises a V8 CPU profile (the `.cpuprofile` JSON that `--cpu-prof` and the inspector's
 * Profiler.stop produce): self time per function and per area (an npm package, a folder of
 * jointban's source, a group of Node core modules, SQLite, GC), as shares of the time the main
 * thread was not idle. V8 samples on a wall clock: on a busy machine, time the thread spent
 * descheduled is charged to whatever it was running.
 */
export interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

export interface ProfileLine {
  name: string;
  selfMs: number;
  /** Share of busy (non-idle) time. */
  share: number;
}

export interface ProfileSummary {
  totalMs: number;
  idleMs: number;
  busyMs: number;
  areas: ProfileLine[];
  functions: ProfileLine[];
}

/** Node core modules, grouped by what they do for a request. */
const NODE_AREAS: Record<string, string> = {
  deps: 'node: undici (Request, Response)',
  webstreams: 'node: web streams',
  worker: 'node: web streams',
  abort_controller: 'node: web streams',
  event_target: 'node: web streams',
  process: 'node: promise and tick queues',
  streams: 'node: http, net, streams',
  net: 'node: http, net, streams',
  stream_base_commons: 'node: http, net, streams',
  _http_outgoing: 'node: http, net, streams',
  _http_server: 'node: http, net, streams',
  _http_common: 'node: http, net, streams',
  _http_incoming: 'node: http, net, streams',
  http: 'node: http, net, streams',
};

/** Which package or part of the code a JavaScript function belongs to, from its script URL. */
export function areaOf(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const [scope, name] = url.slice(nm + '/node_modules/'.length).split('/');
    return scope?.startsWith('@') ? `${scope}/${name ?? ''}` : (scope ?? url);
  }
  if (url.startsWith('node:')) {
    const module = url.replace(/^node:(internal\/)?/, '').split('/')[0] ?? '';
    return NODE_AREAS[module] ?? `node: ${module}`;
  }
  const src = /\/dist\/(src|test|migrations)\/(.*)$/.exec(url);
  if (src) {
    const parts = src[2]!.split('/');
    return `jointban ${src[1]!}/${parts.length > 1 ? `${parts[0]!}/` : parts[0]!}`;
  }
  return url;
}

/** Calls into SQLite (prepare, step) come from these scripts: better-sqlite3 and Kysely's driver. */
const SQLITE_CALLERS = /\/node_modules\/(better-sqlite3\/|kysely\/dist\/esm\/dialect\/sqlite\/)/;

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) return url.slice(nm + '/node_modules/'.length);
  const dist = url.lastIndexOf('/dist/');
  if (dist >= 0) return url.slice(dist + '/dist/'.length);
  return url.replace(/^file:\/\//, '');
}

function top(map: Map<string, number>, busyMs: number, limit: number): ProfileLine[] {
  return [...map.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([name, selfMs]) => ({ name, selfMs, share: busyMs > 0 ? selfMs / busyMs : 0 }));
}

export function summariseProfile(profile: CpuProfile, limit = 20): ProfileSummary {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map<number, number>();
  // timeDeltas[i] is the time between sample i-1 and sample i: it is spent in sample i-1.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const delta = profile.timeDeltas[i + 1] ?? 0;
    selfUs.set(id, (selfUs.get(id) ?? 0) + Math.max(0, delta));
  }
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const child of n.children ?? []) parentOf.set(child, n.id);
  /**
   * A native frame (V8 builtin, C++ binding: no script URL) is charged to the area of its nearest
   * JavaScript caller, except calls into SQLite, which get an area of their own.
   */
  const areaFor = (id: number): string => {
    const { functionName, url } = byId.get(id)!.callFrame;
    if (url !== '') return areaOf(url);
    if (functionName.startsWith('(')) return functionName;
    for (let up = parentOf.get(id); up !== undefined; up = parentOf.get(up)) {
      const caller = byId.get(up)!.callFrame.url;
      if (SQLITE_CALLERS.test(caller)) return 'SQLite (better-sqlite3 native: prepare, step)';
      if (caller !== '') return areaOf(caller);
    }
    return '(native, no JavaScript caller)';
  };
  const areas = new Map<string, number>();
  const functions = new Map<string, number>();
  let idleMs = 0;
  let totalMs = 0;
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const ms = us / 1000;
    totalMs += ms;
    if (functionName === '(idle)') {
      idleMs += ms;
      continue;
    }
    const area = areaFor(id);
    areas.set(area, (areas.get(area) ?? 0) + ms);
    const name = url === '' ? `${functionName || '(anonymous)'} (native)` : `${functionName || '(anonymous)'} ${shortUrl(url)}:${lineNumber + 1}`;
    functions.set(name, (functions.get(name) ?? 0) + ms);
  }
  const busyMs = totalMs - idleMs;
  return { totalMs, idleMs, busyMs, areas: top(areas, busyMs, limit), functions: top(functions, busyMs, limit) };
}
