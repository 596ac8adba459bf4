/** Fixed keys and a small roster for the roster unit tests. */
import { toBase64 } from '../../../src/crypto/encoding.js';
import { ed25519PublicKey } from '../../../src/crypto/index.js';
import { rosterKeyName, type Roster } from '../../../src/roster/index.js';

export function seed(byte: number): Uint8Array {
  return new Uint8Array(32).fill(byte);
}

export const FEDERATION = 'jointban.example';
export const ROOT_SECRET = seed(1);
export const ROOT_PUBLIC = ed25519PublicKey(ROOT_SECRET);
export const TRUST_ROOT = { name: rosterKeyName(FEDERATION), publicKey: ROOT_PUBLIC };

export const SUSPENDED_AT = '2025-03-01T00:00:00.000Z';

export function sampleRoster(overrides: Partial<Roster> = {}): Roster {
  return {
    federation: FEDERATION,
    version: 3,
    issuedAt: '2025-04-01T00:00:00.000Z',
    members: [
      {
        id: 'alpha',
        name: 'Alpha Video',
        role: 'member',
        publicKey: toBase64(ed25519PublicKey(seed(2))),
        endpoint: 'https://alpha.example',
        status: 'active',
        since: '2025-01-01T00:00:00.000Z',
      },
      {
        id: 'assoc',
        name: '演出行业协会',
        role: 'association',
        publicKey: toBase64(ROOT_PUBLIC),
        endpoint: 'https://assoc.example:8443/jointban',
        status: 'active',
        since: '2025-01-01T00:00:00.000Z',
      },
      {
        id: 'beta',
        name: 'Beta Live',
        role: 'member',
        publicKey: toBase64(ed25519PublicKey(seed(3))),
        endpoint: 'http://10.0.0.7:7300',
        status: 'suspended',
        since: '2025-01-15T00:00:00.000Z',
        suspendedAt: SUSPENDED_AT,
      },
    ],
    ...overrides,
  };
}
