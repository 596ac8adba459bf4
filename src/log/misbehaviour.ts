/**
 * The kinds of misbehaviour a node records against a log it mirrors (docs/PROTOCOL.md,
 * "Misbehaviour"). In the core, so that the pure log validation (validate.ts) can name the kind
 * each of its failures is recorded as; the store keeps the records (store/misbehaviour-repository.ts).
 */
export const MISBEHAVIOUR_KINDS = [
  'bad_signature',
  'root_mismatch',
  'inconsistent_checkpoint',
  'equivocation',
  'bad_entry',
  'foreign_origin',
  'unknown_member',
  'suspended_member',
  'bad_response',
] as const;
export type MisbehaviourKind = (typeof MISBEHAVIOUR_KINDS)[number];
