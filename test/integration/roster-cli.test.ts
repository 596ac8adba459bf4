/**
 * The association's roster workflow through the real `jointban` command, run as child processes:
 * init an association and two members, build and sign the roster, open the signed note with the
 * printed trust root, suspend and remove members, and check that every refused command exits
 * non-zero with one line on stderr and leaves the files as they were.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fromHex, toBase64 } from '../../src/crypto/encoding.js';
import { acceptRoster, openRoster, parseTrustRoot, type Roster, type TrustRoot } from '../../src/roster/index.js';
import { testDatabaseSection } from '../helpers/engine.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join(ROOT, 'dist/src/cli/main.js');

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(path));
    else if (entry.name.endsWith('.ts')) newest = Math.max(newest, statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * test/global-setup.ts builds once when the suite runs with test/vitest.config.ts. Run on its own,
 * this file builds if the compiled CLI is missing or older than the sources, so it never tests
 * stale output.
 */
function ensureBuilt(): void {
  if (existsSync(MAIN) && statSync(MAIN).mtimeMs >= newestSource(join(ROOT, 'src'))) return;
  const result = spawnSync('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`build failed:\n${result.stdout}${result.stderr}`);
}

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function jointban(...args: string[]): Run {
  const r = spawnSync(process.execPath, [MAIN, ...args], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function ok(...args: string[]): Record<string, unknown> {
  const r = jointban(...args);
  if (r.status !== 0) throw new Error(`jointban ${args.join(' ')} exited ${String(r.status)}: ${r.stderr}`);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

let base: string;
let assoc: string;
const keys: Record<string, string> = {};

function fileText(name: string): string {
  return readFileSync(join(assoc, name), 'utf8');
}

/** Runs a command that must be refused: exit 1, one `jointban: …` line, files unchanged. */
function refused(pattern: RegExp, ...args: string[]): void {
  const before = [fileText('roster.json'), existsSync(join(assoc, 'roster.note')) ? fileText('roster.note') : ''];
  const r = jointban(...args);
  expect(r.status, r.stderr).toBe(1);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(/^jointban: [^\n]+\n$/);
  expect(r.stderr).toMatch(pattern);
  expect([fileText('roster.json'), existsSync(join(assoc, 'roster.note')) ? fileText('roster.note') : '']).toEqual(before);
}

function signedRoster(trustRoot: TrustRoot): Roster {
  const opened = openRoster(fileText('roster.note'), trustRoot);
  if (!opened.ok) throw new Error(opened.error);
  return opened.roster;
}

function sign(): { version: number; members: number; trustRoot: TrustRoot; roster: Roster } {
  const out = ok('roster', 'sign', '--data-dir', assoc);
  const parsed = parseTrustRoot(String(out['trustRoot']), 'jointban.example');
  if (!parsed.ok) throw new Error(parsed.error);
  return { version: Number(out['version']), members: Number(out['members']), trustRoot: parsed.trustRoot, roster: signedRoster(parsed.trustRoot) };
}

beforeAll(async () => {
  ensureBuilt();
  base = mkdtempSync(join(tmpdir(), 'jointban-roster-cli-'));
  assoc = join(base, 'assoc');
  const inits: [string, string[]][] = [
    ['assoc', ['--role', 'association', '--port', '7401']],
    ['alpha', ['--port', '7402']],
    ['beta', ['--port', '7403']],
  ];
  for (const [member, extra] of inits) {
    // On a PostgreSQL run, each node's data in a database of its own (test/helpers/engine.ts).
    const { url } = await testDatabaseSection();
    const out = ok('init', '--data-dir', join(base, member), '--member', member, ...extra, ...(url !== undefined ? ['--database-url', url] : []));
    keys[member] = String(out['publicKey']);
  }
});

afterAll(() => {
  if (base) rmSync(base, { recursive: true, force: true });
});

function base64Key(member: string): string {
  const bytes = fromHex(keys[member] ?? '');
  if (!bytes) throw new Error(`no key for ${member}`);
  return toBase64(bytes);
}

describe('jointban roster (association workflow)', () => {
  let v1: Roster;
  let v2: Roster;

  it('init adds the association from its own config', () => {
    const out = ok('roster', 'init', '--data-dir', assoc);
    expect(out['federation']).toBe('jointban.example');
    const draft = JSON.parse(fileText('roster.json')) as { members: Record<string, unknown>[] };
    expect(draft.members).toEqual([expect.objectContaining({ id: 'assoc', role: 'association', status: 'active', publicKey: base64Key('assoc'), endpoint: 'http://127.0.0.1:7401' })]);
  });

  it('add, add, sign: version 1, opened with the printed trust root', () => {
    ok('roster', 'add', '--data-dir', assoc, '--id', 'alpha', '--name', 'Alpha Video', '--public-key', keys['alpha'] ?? '', '--endpoint', 'http://127.0.0.1:7402/');
    ok('roster', 'add', '--data-dir', assoc, '--id', 'beta', '--name', 'Beta 直播', '--public-key', base64Key('beta'), '--endpoint', 'http://127.0.0.1:7403');
    const signed = sign();
    expect(signed).toMatchObject({ version: 1, members: 3 });
    expect(signed.trustRoot.publicKey).toEqual(fromHex(keys['assoc'] ?? ''));
    v1 = signed.roster;
    expect(v1.members.map((m) => [m.id, m.role, m.publicKey, m.endpoint])).toEqual([
      ['alpha', 'member', base64Key('alpha'), 'http://127.0.0.1:7402'],
      ['assoc', 'association', base64Key('assoc'), 'http://127.0.0.1:7401'],
      ['beta', 'member', base64Key('beta'), 'http://127.0.0.1:7403'],
    ]);
  });

  it('refuses a roster note under another federation or key', () => {
    const note = fileText('roster.note');
    expect(openRoster(note, { name: 'other.example/roster', publicKey: fromHex(keys['assoc'] ?? '') ?? new Uint8Array() }).ok).toBe(false);
    expect(openRoster(note, { name: 'jointban.example/roster', publicKey: fromHex(keys['alpha'] ?? '') ?? new Uint8Array() }).ok).toBe(false);
  });

  it('suspend and sign: version 2 with suspendedAt, and nodes move forward only', () => {
    const out = ok('roster', 'suspend', '--data-dir', assoc, '--id', 'beta');
    const signed = sign();
    expect(signed.version).toBe(2);
    v2 = signed.roster;
    const beta = v2.members.find((m) => m.id === 'beta');
    expect(beta).toMatchObject({ status: 'suspended', suspendedAt: out['suspendedAt'] });
    expect(acceptRoster(v1, v2)).toEqual({ ok: true, changed: true });
    expect(acceptRoster(v2, v1)).toMatchObject({ ok: false, reason: 'older_version' });
  });

  it('show prints the working copy and the signed roster', () => {
    const out = ok('roster', 'show', '--data-dir', assoc);
    expect(out).toMatchObject({ federation: 'jointban.example', unsignedChanges: false, signed: v2 });
    expect(out['working']).toEqual(v2.members);
  });

  describe('refused commands exit 1 with one line and change nothing', () => {
    const dir = () => ['--data-dir', assoc];
    const add = (id: string, key: string, endpoint = 'https://gamma.example') => ['roster', 'add', ...dir(), '--id', id, '--name', 'Gamma', '--public-key', key, '--endpoint', endpoint];

    it('a duplicate id', () => refused(/member alpha is already in the roster/, ...add('alpha', '00'.repeat(31) + '01')));
    it('a duplicate public key', () => refused(/already belongs to member alpha/, ...add('gamma', keys['alpha'] ?? '')));
    it('a malformed public key', () => refused(/--public-key/, ...add('gamma', 'abc')));
    it('an endpoint with credentials', () => refused(/--endpoint/, ...add('gamma', '00'.repeat(32), 'https://u:p@gamma.example')));
    it('a bad member id', () => refused(/--id/, ...add('Gamma!', '00'.repeat(32))));
    it('suspending an unknown member', () => refused(/no member gamma/, 'roster', 'suspend', ...dir(), '--id', 'gamma'));
    it('suspending a suspended member', () => refused(/already suspended/, 'roster', 'suspend', ...dir(), '--id', 'beta'));
    it('suspending the association', () => refused(/association cannot be suspended/, 'roster', 'suspend', ...dir(), '--id', 'assoc'));
    it('a malformed --at', () => refused(/--at/, 'roster', 'suspend', ...dir(), '--id', 'alpha', '--at', 'yesterday'));
    it('a future --at', () => refused(/future/, 'roster', 'suspend', ...dir(), '--id', 'alpha', '--at', '2999-01-01T00:00:00Z'));
    it('an --at before the member joined', () => refused(/before the member joined/, 'roster', 'suspend', ...dir(), '--id', 'alpha', '--at', '2000-01-01T00:00Z'));
    it('removing the association', () => refused(/association cannot be removed/, 'roster', 'remove', ...dir(), '--id', 'assoc'));
    it('removing an unknown member', () => refused(/no member gamma/, 'roster', 'remove', ...dir(), '--id', 'gamma'));
    it('init twice', () => refused(/already initialised/, 'roster', 'init', ...dir()));

    it('roster commands on a member node', () => {
      const r = jointban('roster', 'init', '--data-dir', join(base, 'alpha'));
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(/^jointban: roster commands run on the association's node[^\n]*\n$/);
      expect(existsSync(join(base, 'alpha', 'roster.json'))).toBe(false);
    });

    it('signing over a roster.note that does not verify', () => {
      const good = fileText('roster.note');
      writeFileSync(join(assoc, 'roster.note'), good.replace('"version":2', '"version":9'));
      try {
        refused(/roster\.note: roster signature/, 'roster', 'sign', ...dir());
      } finally {
        writeFileSync(join(assoc, 'roster.note'), good);
      }
    });
  });

  it('keys rotate, rotate-key, retire-key, sign: version 3 lists the key history; keys finish refuses a key not valid now', () => {
    const alphaDir = join(base, 'alpha');
    const rotated = ok('keys', 'rotate', '--data-dir', alphaDir);
    expect(rotated['previousPublicKey']).toBe(keys['alpha']);
    expect(statSync(String(rotated['file'])).mode & 0o777).toBe(0o600);
    const second = jointban('keys', 'rotate', '--data-dir', alphaDir);
    expect(second.status).toBe(1);
    expect(second.stderr).toMatch(/^jointban: [^\n]*already exists[^\n]*\n$/);
    const newKey = String(rotated['publicKey']);
    refused(/trust root/, 'roster', 'rotate-key', '--data-dir', assoc, '--id', 'assoc', '--public-key', newKey);
    refused(/already belongs to member beta/, 'roster', 'rotate-key', '--data-dir', assoc, '--id', 'alpha', '--public-key', keys['beta'] ?? '');
    refused(/--retire-at/, 'roster', 'rotate-key', '--data-dir', assoc, '--id', 'alpha', '--public-key', newKey, '--retire-at', 'soon');
    ok('roster', 'rotate-key', '--data-dir', assoc, '--id', 'alpha', '--public-key', newKey, '--at', '2999-01-01T00:00Z', '--retire-at', '2999-01-08T00:00Z');
    refused(/current key/, 'roster', 'retire-key', '--data-dir', assoc, '--id', 'alpha', '--public-key', newKey);
    ok('roster', 'retire-key', '--data-dir', assoc, '--id', 'alpha', '--public-key', keys['alpha'] ?? '', '--at', '2999-01-02T00:00Z');
    const signed = sign();
    expect(signed.version).toBe(3);
    expect(signed.roster.members.find((m) => m.id === 'alpha')).toMatchObject({
      publicKey: toBase64(fromHex(newKey)!),
      keyValidFrom: '2999-01-01T00:00:00.000Z',
      previousKeys: [{ publicKey: base64Key('alpha'), validUntil: '2999-01-02T00:00:00.000Z' }],
    });
    // alpha's node holds no roster (and this one makes the key valid only from 2999): the files
    // stay as they are (test/integration/key-rotation.test.ts finishes a rotation on a running node).
    refused(/not valid now: the node holds no roster/, 'keys', 'finish', '--data-dir', alphaDir);
    expect(existsSync(String(rotated['file']))).toBe(true);
  });

  it('remove and sign: version 4 without the member', () => {
    ok('roster', 'remove', '--data-dir', assoc, '--id', 'alpha');
    const signed = sign();
    expect(signed.version).toBe(4);
    expect(signed.roster.members.map((m) => m.id)).toEqual(['assoc', 'beta']);
    expect(acceptRoster(v2, signed.roster)).toEqual({ ok: true, changed: true });
  });
});
