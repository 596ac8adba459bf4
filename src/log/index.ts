/**
 * The log core (docs/PROTOCOL.md, "Logs"): entries and their RFC 8785 canonical bytes, the RFC 9162
 * Merkle tree and proofs, C2SP signed notes, checkpoints and witness cosignatures. Pure: no I/O.
 */
export * from './entry.js';
export * from './merkle.js';
export * from './compact-range.js';
export * from './note.js';
export * from './cosignature.js';
export * from './checkpoint.js';
