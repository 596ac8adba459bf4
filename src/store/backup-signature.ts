/**
 * The signature of a backup's manifest (docs/OPERATIONS.md, "What a backup is"). Without it, the
 * manifest's SHA-256 only proves the database file matches the manifest, and whoever can write one
 * can write both: add an admin API key to the database, update the hash, and the restore says the
 * node may start. Signed by the node's Ed25519 signing key, the manifest binds the database's hash
 * to the node; `jointban restore` checks the signature against the keys the roster holds for the
 * node (src/cli/restore.ts).
 *
 * The signed message is a context line and the RFC 8785 canonical JSON of every manifest field but
 * `signature`: `jointban-backup-manifest/v2\n` ‖ JCS(manifest without signature). The context keeps
 * the signature from being read as any other jointban signature (a checkpoint note, a request).
 */
import canonicalize from 'canonicalize';
import { fromBase64, fromHex, toBase64, toHex, utf8, concatBytes } from '../crypto/encoding.js';
import { ed25519Sign, ed25519Verify, type Ed25519KeyPair } from '../crypto/index.js';

export const MANIFEST_SIGNATURE_CONTEXT = 'jointban-backup-manifest/v2\n';

export interface ManifestSignature {
  /** The signing key's public key, lower-case hex. */
  publicKey: string;
  /** The Ed25519 signature, base64. */
  ed25519: string;
}

function message(unsigned: Record<string, unknown>): Uint8Array {
  const { signature: _signature, ...fields } = unsigned;
  const json = canonicalize(fields);
  if (json === undefined) throw new TypeError('the manifest cannot be canonicalised');
  return concatBytes(utf8(MANIFEST_SIGNATURE_CONTEXT), utf8(json));
}

export function signManifest<T extends object>(manifest: T, key: Ed25519KeyPair): T & { signature: ManifestSignature } {
  const signature = { publicKey: toHex(key.publicKey), ed25519: toBase64(ed25519Sign(key.secretKey, message(manifest as Record<string, unknown>))) };
  return { ...manifest, signature };
}

/**
 * Which of `keys` signed the manifest: the one its signature names, if it is among them and the
 * signature verifies over the manifest's fields. Undefined otherwise (never throws).
 */
export function manifestSigner(manifest: { signature?: ManifestSignature | undefined }, keys: readonly Uint8Array[]): Uint8Array | undefined {
  const sig = manifest.signature;
  if (sig === undefined) return undefined;
  const named = fromHex(sig.publicKey);
  const bytes = fromBase64(sig.ed25519);
  const key = named === undefined ? undefined : keys.find((k) => toHex(k) === toHex(named));
  if (key === undefined || bytes === undefined) return undefined;
  try {
    return ed25519Verify(key, message(manifest as Record<string, unknown>), bytes) ? key : undefined;
  } catch {
    return undefined;
  }
}
