/**
 * One row of a bulk file → the listing (import) or the user (rescan) it describes, checked for
 * shape the way the platform API's schema checks a request (src/api/schemas.ts): the same fields,
 * limits and date-time format. What the listing service checks itself (dates in order, expiry,
 * identifiers normalised) it checks when the row is prepared. Pure: no I/O.
 *
 * A reason never contains anything from the row: a shifted column can put a phone number in any
 * field, so a reason names the field and what is wrong with it, never its text.
 */
import { z } from 'zod';
import { MAX_IDENTIFIER_INPUT_LENGTH } from '../identifiers/normalise.js';
import { IDENTIFIER_TYPES, isIdentifierType } from '../identifiers/types.js';
import type { IdentifierInput } from './tokenizer.js';
import type { CsvColumns, SourceRow } from './import-source.js';
import type { CreateListingInput } from './listings.js';

export interface RowRules {
  categories: readonly string[];
  /** `http.maxIdentifiersPerRequest`: a row may carry as many identifiers as an API request. */
  maxIdentifiers: number;
}

export type RowResult<T> = { ok: true; value: T } | { ok: false; reason: string };

/** A listing to import: the API's input, with the reference required (it makes a re-run safe). */
export interface ImportListing extends CreateListingInput {
  reference: string;
}

export interface RescanUser {
  reference: string;
  identifiers: IdentifierInput[];
}

export const MAX_REFERENCE_LENGTH = 128;

export const LISTING_COLUMNS: CsvColumns = {
  known: ['reference', 'category', 'severity', 'banned_at', 'ban_until', 'expires_at', 'evidence_digest', ...IDENTIFIER_TYPES],
  // ban_until is required as a column although a cell may be empty (permanent): a file that
  // simply lacks the column must not turn every ban into a permanent one.
  required: ['reference', 'category', 'ban_until'],
  oneOf: IDENTIFIER_TYPES,
};

export const USER_COLUMNS: CsvColumns = { known: ['reference', ...IDENTIFIER_TYPES], required: ['reference'], oneOf: IDENTIFIER_TYPES };

const LISTING_FIELDS = ['reference', 'identifiers', 'category', 'severity', 'bannedAt', 'banUntil', 'expiresAt', 'evidenceDigest'];
const USER_FIELDS = ['reference', 'identifiers'];
// The API's date-time format exactly: RFC 3339 with `Z` or an offset.
const dateTime = z.iso.datetime({ offset: true });
const DIGEST_RE = /^sha256:[0-9a-f]{64}$/;

type ReadRow = Extract<SourceRow, { ok: true }>;

class RowProblem extends Error {}

function fail(reason: string): never {
  throw new RowProblem(reason);
}

function attempt<T>(read: () => T): RowResult<T> {
  try {
    return { ok: true, value: read() };
  } catch (err) {
    if (err instanceof RowProblem) return { ok: false, reason: err.message };
    throw err;
  }
}

export function listingFromRow(row: ReadRow, rules: RowRules): RowResult<ImportListing> {
  return attempt(() => (row.format === 'csv' ? listingFromCells(row.cells, rules) : listingFromJson(row.value, rules)));
}

export function userFromRow(row: ReadRow, rules: RowRules): RowResult<RescanUser> {
  return attempt(() => {
    if (row.format === 'csv') return { reference: reference(cell(row.cells, 'reference')), identifiers: identifiers(cellIdentifiers(row.cells), rules) };
    const o = object(row.value, USER_FIELDS);
    return { reference: reference(o.reference), identifiers: identifiers(jsonIdentifiers(o.identifiers, rules), rules) };
  });
}

function listingFromJson(value: unknown, rules: RowRules): ImportListing {
  const o = object(value, LISTING_FIELDS);
  const ref = reference(o.reference);
  const ids = identifiers(jsonIdentifiers(o.identifiers, rules), rules);
  if (!('banUntil' in o)) fail('banUntil: required (null for a permanent ban)');
  return {
    reference: ref,
    identifiers: ids,
    category: category(o.category, rules),
    severity: severity(o.severity),
    bannedAt: optionalDate('bannedAt', o.bannedAt),
    banUntil: o.banUntil === null ? null : date('banUntil', o.banUntil),
    expiresAt: optionalDate('expiresAt', o.expiresAt),
    evidenceDigest: digest('evidenceDigest', o.evidenceDigest),
  };
}

function listingFromCells(cells: ReadonlyMap<string, string>, rules: RowRules): ImportListing {
  const ref = reference(cell(cells, 'reference'));
  const ids = identifiers(cellIdentifiers(cells), rules);
  const banUntil = cell(cells, 'ban_until');
  return {
    reference: ref,
    identifiers: ids,
    category: category(cell(cells, 'category'), rules),
    severity: severity(cell(cells, 'severity')),
    bannedAt: optionalDate('banned_at', cell(cells, 'banned_at')),
    // An empty ban_until is a permanent ban, like `banUntil: null` in the API.
    banUntil: banUntil === undefined ? null : date('ban_until', banUntil),
    expiresAt: optionalDate('expires_at', cell(cells, 'expires_at')),
    evidenceDigest: digest('evidence_digest', cell(cells, 'evidence_digest')),
  };
}

/** A cell's text, or undefined when the column is absent or the cell empty. */
function cell(cells: ReadonlyMap<string, string>, column: string): string | undefined {
  const value = cells.get(column);
  return value === undefined || value === '' ? undefined : value;
}

function object(value: unknown, fields: readonly string[]): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) fail('not a JSON object');
  const o = value as Record<string, unknown>;
  // Unknown fields are refused as the API refuses them; the name is not echoed (it is row text).
  if (Object.keys(o).some((k) => !fields.includes(k))) fail(`unknown field (the fields are ${fields.join(', ')})`);
  return o;
}

function reference(value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_REFERENCE_LENGTH) {
    fail(`reference: required, a string of 1 to ${MAX_REFERENCE_LENGTH} characters`);
  }
  return value;
}

function category(value: unknown, rules: RowRules): string {
  if (typeof value !== 'string' || !rules.categories.includes(value)) fail(`category: must be one of ${rules.categories.join(', ')}`);
  return value;
}

function severity(value: unknown): string {
  if (value !== undefined && value !== 'severe') fail('severity: only "severe" listings are shared');
  return 'severe';
}

function date(field: string, value: unknown): string {
  if (typeof value !== 'string' || !dateTime.safeParse(value).success) fail(`${field}: must be a date-time with a time zone, like 2024-05-01T08:00:00+08:00`);
  return value;
}

function optionalDate(field: string, value: unknown): string | undefined {
  return value === undefined ? undefined : date(field, value);
}

function digest(field: string, value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !DIGEST_RE.test(value)) fail(`${field}: must be "sha256:" followed by 64 lower-case hex characters`);
  return value;
}

/** Identifier columns in a fixed order (not the header's), each cell holding values split by `|`. */
function cellIdentifiers(cells: ReadonlyMap<string, string>): IdentifierInput[] {
  const out: IdentifierInput[] = [];
  for (const type of IDENTIFIER_TYPES) {
    const text = cells.get(type);
    if (!text) continue;
    for (const part of text.split('|')) {
      const value = part.trim();
      if (value !== '') out.push({ type, value });
    }
  }
  return out;
}

function jsonIdentifiers(value: unknown, rules: RowRules): IdentifierInput[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) fail('identifiers: must be an array of {type, value}');
  // Counted before anything is looked at, so a huge array costs nothing.
  if (value.length > rules.maxIdentifiers) tooMany(rules);
  return value.map((item: unknown, i) => {
    if (typeof item !== 'object' || item === null || Array.isArray(item)) fail(`identifiers[${i}]: must be an object {type, value}`);
    const { type, value: text, ...rest } = item as Record<string, unknown>;
    if (Object.keys(rest).length > 0) fail(`identifiers[${i}]: unknown field (the fields are type, value)`);
    if (typeof type !== 'string' || !isIdentifierType(type)) fail(`identifiers[${i}].type: must be one of ${IDENTIFIER_TYPES.join(', ')}`);
    if (typeof text !== 'string') fail(`identifiers[${i}] (${type}): the value must be a string`);
    return { type, value: text };
  });
}

function tooMany(rules: RowRules): never {
  fail(`identifiers: at most ${rules.maxIdentifiers} per row (http.maxIdentifiersPerRequest)`);
}

function identifiers(list: IdentifierInput[], rules: RowRules): IdentifierInput[] {
  if (list.length === 0) fail('identifiers: none given, at least one is required');
  if (list.length > rules.maxIdentifiers) tooMany(rules);
  list.forEach((id, i) => {
    if (id.value.length === 0 || id.value.length > MAX_IDENTIFIER_INPUT_LENGTH) {
      fail(`identifiers[${i}] (${id.type}): the value must be 1 to ${MAX_IDENTIFIER_INPUT_LENGTH} characters`);
    }
  });
  return list;
}
