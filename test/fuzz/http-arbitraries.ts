/**
 * Generators shared by the HTTP fuzzers: mutations of a valid JSON body (a value of the wrong type
 * somewhere, a key dropped or added, 100,000 nested arrays, an oversized string, a broken byte,
 * a duplicate key, `__proto__`), garbage bodies, content types; and the row counts that must not
 * change when a request is refused.
 */
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import type { Database } from '../../src/store/tables.js';

/** Values of every JSON type and awkward range, for "wrong types everywhere". */
export const wrongValue: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(
    null,
    true,
    false,
    0,
    -0,
    -1,
    1.5,
    1e308,
    2 ** 53 + 2,
    -(2 ** 63),
    '',
    ' ',
    'x',
    '0',
    'null',
    'severe',
    'fraud',
    'phone',
    'alpha:1',
    '2025-01-01T00:00:00Z',
    '9999-12-31T23:59:59Z',
    '0000-01-01T00:00:00+01:00',
    [],
    {},
    [[]],
    [{}],
    { type: 'phone' },
    { value: 1 },
  ),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.integer(),
  fc.double({ noNaN: true }),
  fc.jsonValue({ maxDepth: 3 }),
  fc.nat(2_000).map((n) => 'x'.repeat(n)),
);

const pad = (n: number, width: number) => String(Math.abs(n)).padStart(width, '0');
const DAY_MS = 86_400_000;
/** 0000-01-01T00:00:00.000Z and 9999-12-31T23:59:59.999Z. */
const FIRST_MS = -62_167_219_200_000;
const LAST_MS = 253_402_300_799_999;

/**
 * RFC 3339 date-times anywhere a four-digit local year reaches, with or without milliseconds and
 * an offset, biased to both ends: an offset can carry the instant out of the years 0000-9999 the
 * log can encode (0000-01-01T00:00:00+01:00 is in year -1).
 */
export const edgeDateTime: fc.Arbitrary<string> = fc.oneof(
  fc.constantFrom(
    '0000-01-01T00:00:00Z',
    '0000-01-01T00:00:00+01:00',
    '0000-01-01T00:30:00+23:59',
    '0000-01-01T00:00:00.000-00:01',
    '9999-12-31T23:59:59.999Z',
    '9999-12-31T23:59:59-01:00',
    '9999-12-31T23:00:00-23:59',
    '9999-12-31T23:59:59.999+00:01',
    '1970-01-01T00:00:00Z',
    '2024-02-29T12:00:00+08:00',
  ),
  fc
    .record({
      local: fc.oneof(
        fc.integer({ min: FIRST_MS, max: FIRST_MS + 2 * DAY_MS }),
        fc.integer({ min: LAST_MS - 2 * DAY_MS, max: LAST_MS }),
        fc.integer({ min: Date.UTC(2015, 0, 1), max: Date.UTC(2035, 0, 1) }),
        fc.integer({ min: FIRST_MS, max: LAST_MS }),
      ),
      offset: fc.option(fc.integer({ min: -(23 * 60 + 59), max: 23 * 60 + 59 }), { nil: undefined }),
      millis: fc.boolean(),
    })
    .map(({ local, offset, millis }) => {
      const base = new Date(local).toISOString().slice(0, millis ? 23 : 19);
      const zone = offset === undefined ? 'Z' : `${offset < 0 ? '-' : '+'}${pad(Math.trunc(offset / 60), 2)}:${pad(offset % 60, 2)}`;
      return `${base}${zone}`;
    }),
);

export type JsonMutation = {
  op: 'replace' | 'delete' | 'duplicate' | 'add' | 'nest' | 'huge' | 'text' | 'truncate' | 'dupkey' | 'proto' | 'bom' | 'date';
  pick: number;
  date: string;
  value: unknown;
  cut: number;
  byte: number;
  depth: number;
};

export const jsonMutation: fc.Arbitrary<JsonMutation> = fc.record({
  op: fc.constantFrom<JsonMutation['op']>(
    'replace',
    'replace',
    'replace',
    'replace',
    'delete',
    'duplicate',
    'add',
    'nest',
    'huge',
    'text',
    'text',
    'truncate',
    'dupkey',
    'proto',
    'bom',
    'date',
    'date',
    'date',
  ),
  pick: fc.nat(),
  date: edgeDateTime,
  value: wrongValue,
  cut: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
  depth: fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(100_000)),
});

type Place = [Record<string, unknown> | unknown[] | undefined, string | number | undefined];

/** Every place in a JSON value: [container, key], the root as [undefined, undefined]. */
export function places(value: unknown, out: Place[] = [[undefined, undefined]]): Place[] {
  if (Array.isArray(value)) {
    value.forEach((v, i) => {
      out.push([value, i]);
      places(v, out);
    });
  } else if (typeof value === 'object' && value !== null) {
    for (const [k, v] of Object.entries(value)) {
      out.push([value as Record<string, unknown>, k]);
      places(v, out);
    }
  }
  return out;
}

const MARK = '__fuzz_mark__';

/** The body text a mutation makes of `valid`. Deep nesting is spliced in as text: no recursion. */
export function applyJsonMutation(valid: unknown, m: JsonMutation): string | Uint8Array {
  const text = JSON.stringify(valid);
  switch (m.op) {
    case 'text': {
      const at = m.cut % Math.max(1, text.length);
      const bytes = new Uint8Array(Buffer.from(text, 'utf8'));
      bytes[at % bytes.length] = m.byte;
      return bytes;
    }
    case 'truncate':
      return text.slice(0, m.cut % Math.max(1, text.length));
    case 'dupkey':
      return `{${text.slice(1, -1)},${text.slice(1, -1)}}`;
    case 'proto':
      return `{"__proto__":{"admin":true,"identifiers":1},${text.slice(1)}`;
    case 'bom':
      return `\ufeff${text}`;
    default:
      break;
  }
  const copy = JSON.parse(text) as unknown;
  if (m.op === 'date' && typeof copy === 'object' && copy !== null && !Array.isArray(copy)) {
    (copy as Record<string, unknown>)[['bannedAt', 'bannedAt', 'banUntil', 'expiresAt'][m.pick % 4]!] = m.date;
    return JSON.stringify(copy);
  }
  const all = places(copy);
  const [container, key] = all[m.pick % all.length]!;
  const replacement = m.op === 'nest' || m.op === 'huge' ? MARK : m.op === 'date' ? m.date : m.value;
  if (container === undefined || key === undefined) {
    return spliceMark(JSON.stringify(m.op === 'duplicate' ? [copy, copy] : replacement), m);
  }
  if (Array.isArray(container) && typeof key === 'number') {
    if (m.op === 'delete') container.splice(key, 1);
    else if (m.op === 'duplicate') container.splice(key, 0, container[key]);
    else if (m.op === 'add') container.push(m.value);
    else container[key] = replacement;
  } else if (!Array.isArray(container)) {
    if (m.op === 'delete') delete container[key];
    else if (m.op === 'duplicate') container[key] = [container[key], container[key]];
    else if (m.op === 'add') container[`x${m.cut % 7}`] = m.value;
    else container[key] = replacement;
  }
  return spliceMark(JSON.stringify(copy), m);
}

function spliceMark(text: string, m: JsonMutation): string {
  if (!text.includes(MARK)) return text;
  const inner = m.op === 'nest' ? `${'['.repeat(m.depth)}${']'.repeat(m.depth)}` : JSON.stringify('x'.repeat(300_000));
  return text.replace(`"${MARK}"`, inner);
}

/** Bodies that are not a mutation of anything valid. */
export const garbageBody: fc.Arbitrary<string | Uint8Array> = fc.oneof(
  fc.constantFrom(
    '',
    '{',
    '}',
    'null',
    'true',
    '[]',
    '{}',
    '"x"',
    '1e999',
    'NaN',
    '{"a":1,}',
    '\u0000',
    '\ufeff{}',
    `${'['.repeat(100_000)}${']'.repeat(100_000)}`,
    `${'{"a":'.repeat(50_000)}1${'}'.repeat(50_000)}`,
    'x'.repeat(300_000),
  ),
  fc.string({ maxLength: 200 }),
  fc.json({ depthSize: 'medium' }),
  fc.uint8Array({ maxLength: 300 }),
);

export const contentType: fc.Arbitrary<string | undefined> = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      '',
      'application/json; charset=utf-8',
      'APPLICATION/JSON',
      'application/json;charset=latin1',
      'application/json ; x=1',
      'application/jsonx',
      'application/problem+json',
      'text/json',
      'text/plain',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/json, text/plain',
    ),
  },
  { weight: 1, arbitrary: fc.stringMatching(/^[!-~][ -~]{0,60}$/) },
);

/** Row counts of every table a request could write to (not api_keys' last-use time, not check counts). */
export type DbCounts = Record<'log_entries' | 'tree_nodes' | 'checkpoints' | 'listings' | 'listing_tokens' | 'misbehaviour' | 'rosters' | 'api_keys', number>;

export async function dbCounts(db: Kysely<Database>): Promise<DbCounts> {
  const tables = ['log_entries', 'tree_nodes', 'checkpoints', 'listings', 'listing_tokens', 'misbehaviour', 'rosters', 'api_keys'] as const;
  const columns = sql.join(tables.map((table) => sql`(select count(*) from ${sql.table(table)}) as ${sql.ref(table)}`));
  const { rows } = await sql<Record<string, number>>`select ${columns}`.execute(db);
  const row = rows[0] ?? {};
  return Object.fromEntries(tables.map((table) => [table, Number(row[table] ?? Number.NaN)])) as DbCounts;
}
