/**
 * How the node's PostgreSQL clients parse what the server sends back: bigint (count(*), max(seq),
 * identities) and numeric (sum of bigints) come back as text by default; every such value the
 * node reads is a count or a position far below 2^53, so it is parsed as a number. Shared by the
 * pool (connection.ts) and the clients a verify worker opens on its own (log-batch-reader.ts),
 * which must read rows exactly as the pool does. bytea comes back as a Buffer either way.
 */
import pg from 'pg';

const INT8_OID = 20;
const NUMERIC_OID = 1700;
const parseNumber = (text: string): number => Number(text);

export const typeParsers = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    (oid === INT8_OID || oid === NUMERIC_OID) && format !== 'binary' ? parseNumber : pg.types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
};
