/**
 * Holds a node's reads of its peers' checkpoint lists until the test releases them: a slow or
 * hanging network, made deterministic, for the start-up comparison of the own log
 * (federation/own-log-recovery.ts). Returns the release; calling it twice is harmless.
 */
import { vi } from 'vitest';
import type { JointbanNode } from '../../src/node.js';

export function gateCheckpointLists(node: JointbanNode): () => void {
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const checkpointsOf = node.federation.sync.checkpointsOf.bind(node.federation.sync);
  vi.spyOn(node.federation.sync, 'checkpointsOf').mockImplementation(async (...args) => {
    await gate;
    return checkpointsOf(...args);
  });
  return () => release();
}
