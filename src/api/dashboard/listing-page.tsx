/**
 * The listing lookup: a listing by id (`origin:seq`), its status and its receipt, the offline
 * proof that its origin published it. Shows what the federation shares about a listing and no
 * more: the origin's own account reference and the token values stay off the page (tokens are
 * personal information under PIPL Art. 73; the receipt carries them only inside its signed entry,
 * which is why only admin sessions see receipts: an auditor session gets the facts without them).
 */
import type { Receipt } from '../../log/receipt.js';
import type { ListingView } from '../../service/listings.js';
import { humanise, NONE } from './format.js';
import { Empty, Page, When, type NodeInfo, type Viewer } from './layout.js';

export interface ListingPageProps {
  nonce: string;
  node: NodeInfo;
  viewer: Viewer;
  query: string;
  listing?: ListingView | undefined;
  receipt?: Receipt | undefined;
  /** The viewer may not hold receipts (an auditor session): they carry the listed person's tokens. */
  receiptWithheld?: boolean | undefined;
  error?: string | undefined;
  /** Whether this node holds any entry at all, for the empty state. */
  hasEntries: boolean;
}

export function receiptHref(id: string): string {
  return `/dashboard/listings/receipt?id=${encodeURIComponent(id)}`;
}

/** `alpha:12` → `jointban-receipt-alpha-12.json`. */
export function receiptFileName(id: string): string {
  return `jointban-receipt-${id.replace(/[^a-z0-9-]+/gi, '-')}.json`;
}

function StatusBadge(props: { status: ListingView['status'] }) {
  const tone = props.status === 'active' ? 'ok' : props.status === 'retracted' ? 'bad' : 'warn';
  return <span class={`badge ${tone}`}>{props.status}</span>;
}

function ListingFacts(props: { listing: ListingView }) {
  const l = props.listing;
  const types = [...new Set(l.tokens.map((t) => humanise(t.type)))].join(', ');
  const epochs = [...new Set(l.tokens.map((t) => t.epoch))].sort((a, b) => a - b).join(', ');
  return (
    <dl class="facts">
      <dt>Status</dt>
      <dd>
        <StatusBadge status={l.status} />
      </dd>
      <dt>Origin</dt>
      <dd class="mono">{l.origin}</dd>
      <dt>Entry number</dt>
      <dd>{l.seq}</dd>
      <dt>Category</dt>
      <dd>{humanise(l.category)}</dd>
      <dt>Severity</dt>
      <dd>{l.severity}</dd>
      <dt>Listed</dt>
      <dd>
        <When iso={l.listedAt} />
      </dd>
      <dt>Banned</dt>
      <dd>
        <When iso={l.bannedAt} />
      </dd>
      <dt>Ban until</dt>
      <dd>{l.banUntil ? <When iso={l.banUntil} /> : 'permanent'}</dd>
      <dt>Shared until</dt>
      <dd>
        <When iso={l.expiresAt} />
      </dd>
      <dt>Retracted</dt>
      <dd>{l.retractedAt ? <When iso={l.retractedAt} /> : NONE}</dd>
      <dt>Retraction reason</dt>
      <dd>{l.retractionReason ? humanise(l.retractionReason) : NONE}</dd>
      <dt>Identifier types</dt>
      <dd>
        {types || NONE}
        {epochs && <span class="muted"> (token epoch {epochs})</span>}
      </dd>
      <dt>Evidence digest</dt>
      <dd class={l.evidenceDigest ? 'mono' : 'muted'}>{l.evidenceDigest ?? 'none given'}</dd>
    </dl>
  );
}

export function ListingPage(props: ListingPageProps) {
  const { listing, receipt } = props;
  return (
    <Page title="Listing lookup" nonce={props.nonce} node={props.node} viewer={props.viewer} section="listings">
      <h1>Listing lookup</h1>
      <p class="lede">A listing's status and its receipt. Listing ids are the origin member and the entry number, as in alpha:17.</p>
      {/* biome-ignore lint/a11y/useSemanticElements: the <search> element is recent (2023); a form with role="search" is the landmark every screen reader knows */}
      <form class="inline" method="get" action="/dashboard/listings" role="search">
        <label>
          Listing id
          <input class="wide" type="text" name="id" value={props.query} placeholder="alpha:17" maxlength={80} autocomplete="off" spellcheck={false} required />
        </label>
        <button class="primary" type="submit">
          Look up
        </button>
      </form>
      {props.error && (
        <p class="error" role="alert">
          {props.error}
        </p>
      )}
      {!listing && !props.error && (
        <Empty>
          {props.hasEntries
            ? 'Enter a listing id above. Platforms get it back from POST /v1/listings, and every check names the listings it matched.'
            : 'No listings yet. Platforms list bans with POST /v1/listings.'}
        </Empty>
      )}
      {listing && (
        <>
          <h2>
            Listing <span class="mono">{listing.id}</span>
          </h2>
          <ListingFacts listing={listing} />
          <h2>Receipt</h2>
          {props.receiptWithheld ? (
            <Empty>
              Receipts are shown to admin sessions only: a receipt carries the signed entry, and with it the tokens of every identifier of the listed account (personal information). The facts above
              are what the entry says; ask the platform for the receipt of a listing you need to verify offline.
            </Empty>
          ) : receipt ? (
            <>
              <p>
                Offline proof that <span class="mono">{listing.origin}</span> published this entry: its bytes, an RFC 9162 inclusion proof and the origin's signed checkpoint. Anyone holding the roster
                can check it with <code>jointban receipt verify FILE</code>.{listing.status === 'retracted' && ' It proves the listing was published; the status above shows it was retracted since.'}
              </p>
              <p>
                <a class="button" href={receiptHref(listing.id)} download={receiptFileName(listing.id)}>
                  Download receipt (JSON)
                </a>
              </p>
              <pre class="receipt">{JSON.stringify(receipt, null, 2)}</pre>
            </>
          ) : (
            <Empty>
              No receipt yet: no signed checkpoint of {listing.origin}'s log covers this entry. Checkpoints are signed about a second after a listing and reach peers at the next sync; reload the page
              shortly.
            </Empty>
          )}
        </>
      )}
    </Page>
  );
}
