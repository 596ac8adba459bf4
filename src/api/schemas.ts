/**
 * Request and response schemas of the platform API. The same zod objects validate requests and
 * generate /openapi.json, so the document cannot drift from what the node accepts.
 */
import { z } from '@hono/zod-openapi';
import { IDENTIFIER_TYPES } from '../identifiers/types.js';
import { RETRACTION_REASONS } from '../log/entry.js';
import { PURPOSES } from '../policy/index.js';

/** The instants a log entry can hold: UTC years 0000 to 9999 (entry times are `toISOString` form). */
const FIRST_ENTRY_TIME = Date.parse('0000-01-01T00:00:00.000Z');
const LAST_ENTRY_TIME = Date.parse('9999-12-31T23:59:59.999Z');
// An offset can move a four-digit local year out of that range (0000-01-01T00:00:00+01:00 is in
// year -1): such a time is bad input, not a listing the log cannot encode.
const dateTime = z.iso.datetime({ offset: true }).refine((value) => {
  const ms = Date.parse(value);
  return ms >= FIRST_ENTRY_TIME && ms <= LAST_ENTRY_TIME;
}, 'must be between 0000-01-01T00:00:00Z and 9999-12-31T23:59:59.999Z');

export const identifierSchema = z
  .strictObject({
    type: z.enum(IDENTIFIER_TYPES),
    value: z.string().min(1).max(1024).openapi({ description: 'The raw identifier; normalised and tokenised, never stored.' }),
  })
  .openapi('Identifier');

/** The platform's own account id, on a listing or a watched account: kept locally, never shared. */
export const referenceSchema = z.string().min(1).max(128);

export function createListingSchema(maxIdentifiers: number) {
  return z
    .strictObject({
      identifiers: z.array(identifierSchema).min(1).max(maxIdentifiers),
      category: z.string().min(1).max(64),
      severity: z.string().min(1).max(32).openapi({ description: 'Only "severe" listings are shared.' }),
      bannedAt: dateTime.optional().openapi({ description: 'When the ban took effect; defaults to now.' }),
      banUntil: dateTime.nullable().openapi({ description: 'When the ban ends; null for a permanent ban.' }),
      expiresAt: dateTime.optional().openapi({ description: 'When the listing stops being shared; defaults to the end of the longest penalty that can depend on it.' }),
      reference: referenceSchema.optional().openapi({ description: "The platform's own account id; kept locally, never shared." }),
      evidenceDigest: z
        .string()
        .regex(/^sha256:[0-9a-f]{64}$/, 'must be "sha256:" followed by 64 lower-case hex characters')
        .optional(),
    })
    .openapi('CreateListing');
}

export const tokenOutSchema = z.object({ type: z.enum(IDENTIFIER_TYPES), epoch: z.number().int(), token: z.string() }).openapi('Token');

export const createdListingSchema = z
  .object({ id: z.string(), origin: z.string(), seq: z.number().int(), status: z.enum(['active', 'retracted', 'expired']), tokens: z.array(tokenOutSchema) })
  .openapi('CreatedListing');

export const listingSchema = z
  .object({
    id: z.string(),
    origin: z.string(),
    seq: z.number().int(),
    status: z.enum(['active', 'retracted', 'expired']),
    category: z.string(),
    severity: z.string(),
    listedAt: z.string(),
    bannedAt: z.string(),
    banUntil: z.string().nullable(),
    expiresAt: z.string(),
    evidenceDigest: z.string().nullable(),
    retractedAt: z.string().nullable(),
    retractionReason: z.string().nullable(),
    reference: z.string().nullable(),
    tokens: z.array(tokenOutSchema),
  })
  .openapi('Listing');

export const retractSchema = z.strictObject({ reason: z.enum(RETRACTION_REASONS) }).openapi('Retract');

export function checkSchema(maxIdentifiers: number) {
  return z
    .strictObject({
      identifiers: z.array(identifierSchema).min(1).max(maxIdentifiers).optional(),
      tokens: z
        .array(
          z.strictObject({
            type: z.enum(IDENTIFIER_TYPES),
            token: z.string().regex(/^[0-9a-f]{32}$/, 'must be 32 lower-case hex characters'),
            epoch: z.number().int().min(1).optional(),
          }),
        )
        .min(1)
        .max(maxIdentifiers * 4)
        .optional(),
      purpose: z.enum(PURPOSES).optional(),
      receipts: z.boolean().optional().openapi({ description: 'For a deny or review, include a verifiable receipt per matched listing.' }),
    })
    .openapi('Check');
}

export const receiptSchema = z
  .object({
    format: z.literal('jointban-receipt/v1'),
    federation: z.string(),
    listingId: z.string(),
    origin: z.string(),
    leafIndex: z.number().int(),
    treeSize: z.number().int(),
    entry: z.string().openapi({ description: 'Base64 of the canonical entry bytes (the Merkle leaf data).' }),
    inclusionProof: z.array(z.string()),
    checkpoint: z.string().openapi({ description: "The origin's signed C2SP checkpoint note." }),
  })
  .openapi('Receipt');

export const checkResultSchema = z
  .object({
    decision: z.enum(['allow', 'review', 'deny']),
    purpose: z.enum(PURPOSES),
    matches: z.array(
      z.object({
        listingId: z.string(),
        origin: z.string(),
        category: z.string(),
        severity: z.string(),
        identifierType: z.enum(IDENTIFIER_TYPES),
        bannedAt: z.string(),
        banUntil: z.string().nullable(),
        expiresAt: z.string(),
      }),
    ),
    penalties: z.array(z.object({ action: z.string(), until: z.string().nullable(), rule: z.string() })),
    rules: z.array(z.string()),
    receipts: z.array(receiptSchema).optional(),
  })
  .openapi('CheckResult');

export const errorSchema = z.object({ error: z.object({ code: z.string(), message: z.string() }) }).openapi('Error');

// Any string: an id that cannot name a listing is simply not found (404), not bad input (400).
export const listingIdParam = z.object({ id: z.string().openapi({ param: { name: 'id', in: 'path' }, example: 'alpha:1' }) });
