/**
 * The token epochs on the health page: the ones this node holds and, per peer, the ones it names in
 * its checkpoint list (federation/held-epochs.ts), with what it still lacks or still holds beyond
 * this node's. On the association's node this is the roll-out of an epoch rotation across the
 * federation (docs/OPERATIONS.md, "Epoch secrets"). Numbers only, never a secret.
 */
import type { EpochsStatus } from '../../federation/held-epochs.js';
import { NONE } from './format.js';

const list = (epochs: readonly number[]) => epochs.join(', ');

export function EpochsTable(props: { epochs: EpochsStatus }) {
  const { held, members } = props.epochs;
  return (
    <div class="table-wrap">
      <table class="epochs">
        <thead>
          <tr>
            <th>Member</th>
            <th>Epochs held</th>
            <th>Lacks (held here)</th>
            <th>Also holds</th>
          </tr>
        </thead>
        <tbody>
          {members.map((m) => (
            <tr>
              <td class="mono">{m.member}</td>
              <td class="mono">{m.held === null ? <span class="muted">not known yet</span> : list(m.held)}</td>
              <td>{m.held === null ? <span class="muted">{NONE}</span> : m.missing.length > 0 ? <span class="badge warn">{list(m.missing)}</span> : <span class="ok">none</span>}</td>
              <td>{m.extra.length > 0 ? <span class="badge warn">{list(m.extra)}</span> : <span class="muted">{NONE}</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p class="muted">This node holds epochs {list(held)}. A member's list is what its node says it holds.</p>
    </div>
  );
}
