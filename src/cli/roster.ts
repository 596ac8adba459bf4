/**
 * `jointban roster init|add|suspend|remove|rotate-key|retire-key|sign|show`: the association manages the federation's
 * member roster (docs/PROTOCOL.md, "Managing the roster").
 *
 * The association keeps two files in its data directory: `roster.json`, the unsigned working copy
 * that add/suspend/remove edit, and `roster.note`, the signed roster that nodes fetch. Only `sign`
 * changes what other nodes see; it signs with the node's own key, which is the federation's trust
 * root. The edits themselves are pure functions in src/roster/edit.ts; this file does the I/O.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import type { NodeConfig } from '../config/load.js';
import { toBase64 } from '../crypto/encoding.js';
import type { Ed25519KeyPair } from '../crypto/index.js';
import { AppError } from '../errors.js';
import { isEntryTime, isMemberId } from '../log/entry-schema.js';
import {
  addMember,
  checkRosterDraft,
  createDraft,
  draftMatchesRoster,
  isMemberName,
  normaliseEndpointInput,
  openRoster,
  parsePublicKeyInput,
  removeMember,
  retireKey,
  rotateKey,
  rosterFromDraft,
  rosterKeyName,
  signRoster,
  suspendMember,
  trustRootVerifierKey,
  type EditResult,
  type Roster,
  type RosterDraft,
} from '../roster/index.js';
import { writeFileAtomic } from '../durable-file.js';
import { baseContext, configWithoutSecrets, httpUrl, printJson } from './options.js';

export const ROSTER_DRAFT_FILE = 'roster.json';
export const ROSTER_NOTE_FILE = 'roster.note';

interface Association {
  config: NodeConfig;
  draftFile: string;
  noteFile: string;
}

function association(dataDir: string): Association {
  const config = configWithoutSecrets(dataDir);
  if (config.role !== 'association') {
    throw new AppError('forbidden', `roster commands run on the association's node; ${config.configFile} has role ${config.role}`);
  }
  return { config, draftFile: join(config.dataDir, ROSTER_DRAFT_FILE), noteFile: join(config.dataDir, ROSTER_NOTE_FILE) };
}

function readDraft(a: Association): RosterDraft {
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(a.draftFile, 'utf8'));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AppError('not_found', `${a.draftFile} does not exist: run jointban roster init first`);
    throw new AppError('invalid_input', `${a.draftFile}: ${code ? `cannot read (${code})` : 'not valid JSON'}`);
  }
  const checked = checkRosterDraft(value);
  if (!checked.ok) throw new AppError('invalid_input', `${a.draftFile}: ${checked.error}`);
  if (checked.draft.federation !== a.config.federation) {
    throw new AppError('invalid_input', `${a.draftFile} is for federation ${checked.draft.federation}, the config names ${a.config.federation}`);
  }
  return checked.draft;
}

function writeDraft(a: Association, result: EditResult): RosterDraft {
  if (!result.ok) throw new AppError(result.code, result.error);
  writeFileAtomic(a.draftFile, `${JSON.stringify(result.draft, null, 2)}\n`, 0o644);
  return result.draft;
}

/** The last signed roster, checked against our own key: a note we cannot open is never built on. */
function readSigned(a: Association, keyPair: Ed25519KeyPair): Roster | undefined {
  if (!existsSync(a.noteFile)) return undefined;
  const opened = openRoster(readFileSync(a.noteFile, 'utf8'), { name: rosterKeyName(a.config.federation), publicKey: keyPair.publicKey });
  if (!opened.ok) throw new AppError('invalid_input', `${a.noteFile}: ${opened.error}`);
  return opened.roster;
}

function nowIso(): string {
  return new Date().toISOString();
}

const UTC_TIME_RE = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2})(:\d{2})?(\.\d{1,3})?Z$/;

/** A UTC time as typed (seconds and milliseconds optional) in the roster's `toISOString` form. */
function parseUtcTime(option: string, value: string): string {
  const m = UTC_TIME_RE.exec(value);
  const iso = m ? `${m[1]}${m[2] ?? ':00'}${(m[3] ?? '.').padEnd(4, '0')}Z` : '';
  // isEntryTime also refuses dates that do not exist (Date.parse rolls 02-30 over to March).
  if (!isEntryTime(iso)) throw new AppError('invalid_input', `${option}: must be a UTC time such as 2025-06-01T12:00:00Z`);
  return iso;
}

function memberSummary(draft: RosterDraft): { id: string; role: string; status: string; suspendedAt?: string }[] {
  return draft.members.map((m) => ({ id: m.id, role: m.role, status: m.status, ...(m.suspendedAt ? { suspendedAt: m.suspendedAt } : {}) }));
}

function defaultEndpoint(config: NodeConfig): string {
  if (config.http.publicUrl !== undefined) return config.http.publicUrl;
  const { host, port } = config.http;
  if (host === '0.0.0.0' || host === '::') {
    throw new AppError('invalid_input', `--endpoint: required, http.host ${host} listens on every address and is not a URL peers can reach`);
  }
  return httpUrl(host, port);
}

function endpointOption(option: string, text: string): string {
  const endpoint = normaliseEndpointInput(text);
  if (endpoint === undefined) {
    throw new AppError('invalid_input', `${option}: ${text} is not an http(s) URL without credentials, query or fragment`);
  }
  return endpoint;
}

interface DirOpts {
  dataDir: string;
}

function rosterInit(opts: DirOpts & { endpoint?: string; name?: string }): void {
  const a = association(opts.dataDir);
  if (existsSync(a.draftFile)) throw new AppError('conflict', `${a.draftFile} already exists: the roster is already initialised`);
  const keyPair = baseContext(a.config).identity();
  const endpoint = endpointOption(opts.endpoint !== undefined ? '--endpoint' : 'endpoint from the config', opts.endpoint ?? defaultEndpoint(a.config));
  const name = opts.name ?? a.config.member;
  if (!isMemberName(name)) throw new AppError('invalid_input', '--name: must be 1-100 printable characters without white space at the ends');
  const self = { id: a.config.member, name, publicKey: toBase64(keyPair.publicKey), endpoint };
  const draft = writeDraft(a, createDraft(a.config.federation, self, nowIso()));
  printJson({ federation: draft.federation, file: a.draftFile, members: memberSummary(draft) });
}

function rosterAdd(opts: DirOpts & { id: string; name: string; publicKey: string; endpoint: string }): void {
  const a = association(opts.dataDir);
  if (!isMemberId(opts.id)) throw new AppError('invalid_input', '--id: must be 2-32 characters of a-z, 0-9 and "-", starting with a letter');
  if (!isMemberName(opts.name)) throw new AppError('invalid_input', '--name: must be 1-100 printable characters without white space at the ends');
  const publicKey = parsePublicKeyInput(opts.publicKey);
  if (publicKey === undefined) throw new AppError('invalid_input', '--public-key: must be 64 hex digits or base64 of a 32-byte Ed25519 key');
  const endpoint = endpointOption('--endpoint', opts.endpoint);
  const draft = writeDraft(a, addMember(readDraft(a), { id: opts.id, name: opts.name, publicKey, endpoint }, nowIso()));
  printJson({ added: opts.id, members: memberSummary(draft), note: 'run jointban roster sign to publish the change' });
}

function rosterSuspend(opts: DirOpts & { id: string; at?: string }): void {
  const a = association(opts.dataDir);
  const now = nowIso();
  const at = opts.at === undefined ? now : parseUtcTime('--at', opts.at);
  // A future suspension would make the signed status false until then; suspend when it happens.
  if (at > now) throw new AppError('invalid_input', '--at: must not be in the future');
  const draft = writeDraft(a, suspendMember(readDraft(a), opts.id, at));
  printJson({ suspended: opts.id, suspendedAt: at, members: memberSummary(draft), note: 'run jointban roster sign to publish the change' });
}

function rosterRemove(opts: DirOpts & { id: string }): void {
  const a = association(opts.dataDir);
  const draft = writeDraft(a, removeMember(readDraft(a), opts.id));
  printJson({ removed: opts.id, members: memberSummary(draft), note: 'run jointban roster sign to publish the change' });
}

const DAY_MS = 24 * 60 * 60 * 1000;

function publicKeyOption(text: string): string {
  const publicKey = parsePublicKeyInput(text);
  if (publicKey === undefined) throw new AppError('invalid_input', '--public-key: must be 64 hex digits or base64 of a 32-byte Ed25519 key');
  return publicKey;
}

/**
 * A member's new key, valid from `--at`; its current key stays valid until `--retire-at` (default
 * one day after `--at`), the overlap in which both keys sign. Choose `--at` late enough for every
 * node to have fetched the new roster (roster.refreshIntervalMs), since the member's node signs
 * with the new key from then on.
 */
function rosterRotateKey(opts: DirOpts & { id: string; publicKey: string; at?: string; retireAt?: string }): void {
  const a = association(opts.dataDir);
  const draft = readDraft(a);
  if (draft.members.find((m) => m.id === opts.id)?.role === 'association') {
    throw new AppError('invalid_input', "the association's key is the federation's trust root: rotating it means a new roster.trustRoot on every node, which this command does not do");
  }
  const publicKey = publicKeyOption(opts.publicKey);
  const at = opts.at === undefined ? nowIso() : parseUtcTime('--at', opts.at);
  const retireAt = opts.retireAt === undefined ? new Date(Date.parse(at) + DAY_MS).toISOString() : parseUtcTime('--retire-at', opts.retireAt);
  const result = writeDraft(a, rotateKey(draft, opts.id, publicKey, at, retireAt));
  const member = result.members.find((m) => m.id === opts.id);
  printJson({ rotated: opts.id, publicKey, keyValidFrom: at, previousKeys: member?.previousKeys ?? [], note: 'run jointban roster sign to publish the change' });
}

/** Ends a previous key's period at `--at` (default now): to end an overlap early, or cut off a leaked key. */
function rosterRetireKey(opts: DirOpts & { id: string; publicKey: string; at?: string }): void {
  const a = association(opts.dataDir);
  const publicKey = publicKeyOption(opts.publicKey);
  const at = opts.at === undefined ? nowIso() : parseUtcTime('--at', opts.at);
  const result = writeDraft(a, retireKey(readDraft(a), opts.id, publicKey, at));
  const member = result.members.find((m) => m.id === opts.id);
  printJson({ retired: opts.id, publicKey, validUntil: at, previousKeys: member?.previousKeys ?? [], note: 'run jointban roster sign to publish the change' });
}

function rosterSign(opts: DirOpts): void {
  const a = association(opts.dataDir);
  const draft = readDraft(a);
  const keyPair = baseContext(a.config).identity();
  const self = draft.members.find((m) => m.role === 'association');
  if (self?.publicKey !== toBase64(keyPair.publicKey)) {
    throw new AppError('invalid_input', `the association's public key in ${a.draftFile} is not this node's signing key`);
  }
  const previous = readSigned(a, keyPair);
  const built = rosterFromDraft(draft, (previous?.version ?? 0) + 1, nowIso());
  if (!built.ok) throw new AppError('invalid_input', `${a.draftFile}: ${built.error}`);
  writeFileAtomic(a.noteFile, signRoster(built.roster, keyPair.secretKey), 0o644);
  printJson({
    version: built.roster.version,
    issuedAt: built.roster.issuedAt,
    members: built.roster.members.length,
    trustRoot: trustRootVerifierKey(a.config.federation, keyPair.publicKey),
    file: a.noteFile,
  });
}

function rosterShow(opts: DirOpts): void {
  const a = association(opts.dataDir);
  const draft = readDraft(a);
  const keyPair = baseContext(a.config).identity();
  const signed = readSigned(a, keyPair);
  printJson({
    federation: draft.federation,
    trustRoot: trustRootVerifierKey(a.config.federation, keyPair.publicKey),
    working: draft.members,
    signed: signed ?? null,
    unsignedChanges: signed === undefined || !draftMatchesRoster(draft, signed),
  });
}

export function registerRosterCommands(program: Command): void {
  const roster = program.command('roster').description("manage the federation's signed member roster (association only)");
  const dataDir = ['--data-dir <dir>', "the association node's data directory"] as const;
  roster
    .command('init')
    .description('start a working copy of the roster holding the association itself')
    .requiredOption(...dataDir)
    .option('--endpoint <url>', "the association node's URL (default: http.publicUrl, else http://<http.host>:<http.port>)")
    .option('--name <name>', 'display name of the association (default: its member id)')
    .action(rosterInit);
  roster
    .command('add')
    .description('add a member to the working copy')
    .requiredOption(...dataDir)
    .requiredOption('--id <id>', 'member id')
    .requiredOption('--name <name>', 'display name')
    .requiredOption('--public-key <key>', 'Ed25519 public key: 64 hex digits (as `jointban init` prints it) or base64')
    .requiredOption('--endpoint <url>', "the member node's URL")
    .action(rosterAdd);
  roster
    .command('suspend')
    .description('suspend a member: its entries dated at or after the suspension are refused')
    .requiredOption(...dataDir)
    .requiredOption('--id <id>', 'member id')
    .option('--at <time>', 'UTC suspension time, e.g. 2025-06-01T12:00:00Z (default: now; never in the future)')
    .action(rosterSuspend);
  roster
    .command('remove')
    .description('remove a member: all its entries are refused once the roster is signed')
    .requiredOption(...dataDir)
    .requiredOption('--id <id>', 'member id')
    .action(rosterRemove);
  roster
    .command('rotate-key')
    .description('give a member a new signing key; its current key stays valid until --retire-at')
    .requiredOption(...dataDir)
    .requiredOption('--id <id>', 'member id')
    .requiredOption('--public-key <key>', 'the new Ed25519 public key, as `jointban keys rotate` prints it')
    .option('--at <time>', 'UTC time from which the new key signs, e.g. 2025-06-01T12:00:00Z (default: now)')
    .option('--retire-at <time>', 'UTC time from which the old key no longer verifies (default: one day after --at)')
    .action(rosterRotateKey);
  roster
    .command('retire-key')
    .description("end a member's previous key at --at: checkpoints it signs whose last entry is dated from then on are refused")
    .requiredOption(...dataDir)
    .requiredOption('--id <id>', 'member id')
    .requiredOption('--public-key <key>', 'the previous key to retire')
    .option('--at <time>', 'UTC time (default: now)')
    .action(rosterRetireKey);
  roster
    .command('sign')
    .description('sign the working copy as the next roster version and write roster.note')
    .requiredOption(...dataDir)
    .action(rosterSign);
  roster
    .command('show')
    .description('print the working copy and the signed roster')
    .requiredOption(...dataDir)
    .action(rosterShow);
}
