/** Loads test/vectors/c2sp-tlog-go.json (made by Go's sumdb/note and sumdb/tlog). */
import { readFileSync } from 'node:fs';
import { fromBase64 } from '../../../src/crypto/encoding.js';

export interface GoVectors {
  checkpoint: string;
  noteName: string;
  publicKey: string;
  keyId: string;
  verifierKey: string;
  emptyTreeRoot: string;
  leaves: string[];
  treeHeads: { size: number; root: string }[];
  inclusion: { index: number; size: number; proof: string[] }[];
  consistency: { oldSize: number; newSize: number; proof: string[] }[];
}

export const goVectors = JSON.parse(readFileSync(new URL('../../vectors/c2sp-tlog-go.json', import.meta.url), 'utf8')) as GoVectors;

export function b64(text: string): Uint8Array {
  const bytes = fromBase64(text);
  if (bytes === undefined) throw new Error(`bad base64 in vectors: ${text}`);
  return bytes;
}
