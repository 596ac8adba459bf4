/**
 * The roster core (docs/PROTOCOL.md): the federation's member list as a signed note from
 * the association's trust root key, the rules for moving to a newer roster, and the lookups the
 * federation layer makes (keys, suspensions, peers). Pure: no I/O, no clock.
 */
export * from './schema.js';
export * from './note.js';
export * from './accept.js';
export * from './lookup.js';
export * from './edit.js';
export * from './keys.js';
