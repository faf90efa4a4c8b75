// Output batches and attested outputs: the batch's window, size, anchoring and revocation; each output with its
// receipt, verified in the browser against the chain; and a form to find an output from its request and response.
import { useState } from 'preact/hooks';
import { keccak256, toBytes } from 'viem';
import { api, maybe, type Schemas } from '../api/client';
import { rpcClient, short } from '../chain/rpc';
import { parseReceipt, receiptLines, verifyReceipt, type Receipt } from '../chain/verify';
import { readBytes } from '../files';
import { chainSettings } from '../settings';
import { A, Address, Badge, KV, Loaded, Mono, Pointer, Section, Verdict, useLoad, when } from '../ui';

export function BatchPage({ root }: { root: string }) {
  const batch = useLoad(() => maybe(api.GET('/v1/output-batches/{root}', { params: { path: { root } } })), [root]);
  return (
    <>
      <h1>Output batch</h1>
      <p class="hash-title">root <Mono value={root} /></p>
      <Loaded load={batch} what="the batch">
        {(b) =>
          !b ? <p class="error" role="alert">No batch with this root is anchored in the indexed registries.</p> : (
            <>
              <KV
                rows={[
                  ['model version', <Mono value={b.version_hash} to={`/model/${b.version_hash}`} />],
                  ['publisher', <Address value={b.publisher} chainId={b.chain.chain_id} to={`/publisher/${b.publisher}`} />],
                  ['attestor key', <Address value={b.attestor} chainId={b.chain.chain_id} />],
                  ['outputs', String(b.leaf_count)],
                  ['window', <>{when(b.window_start)} to {when(b.window_end)} <span class="muted">(the attestor's claim of when the outputs were made)</span></>],
                  ['anchored', <>{when(b.chain.block_time)} <span class="muted">(every output in it existed no later than this)</span></>],
                  ['status', b.revocation ? <Badge kind="bad">revoked: {b.revocation.reason || 'no reason given'}</Badge> : b.signed_by_compromised_key ? <Badge kind="bad">anchored by a compromised key</Badge> : <Badge kind="ok">stands</Badge>],
                  ['leaves', b.leaves_uploaded ? 'uploaded to this API: outputs can be looked up' : 'not uploaded here: only receipts held by the lab prove its outputs'],
                  ['batch URI', b.batch_uri ? <a href={b.batch_uri} rel="noopener noreferrer nofollow">{b.batch_uri}</a> : 'none'],
                ]}
              />
              {b.revocation && <Pointer p={b.revocation.chain} label="revoked" />}
              <Pointer p={b.chain} label="anchored" />
              <Section title="Find and verify an output of this batch" id="find">
                <FindOutput root={root} />
              </Section>
            </>
          )}
      </Loaded>
    </>
  );
}

/** Paste or drop a request and a response; find their leaf (by the response's keccak256) and verify its receipt
 * with the exact bytes, in the browser. */
export function FindOutput({ root }: { root?: string }) {
  const [result, setResult] = useState<{ verified?: boolean; lines: string[]; rpc?: string }[]>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const bytesOf = async (name: string) => {
      const file = form.get(`${name}-file`) as File | null;
      if (file && file.size > 0) return readBytes(file);
      const text = String(form.get(name) ?? '');
      return text ? toBytes(text) : undefined;
    };
    setBusy(true);
    try {
      const request = await bytesOf('request');
      const response = await bytesOf('response');
      if (!response) {
        setResult([{ verified: undefined, lines: ['Give the response (text or file).'] }]);
        return;
      }
      const hash = keccak256(response);
      const found = await maybe(api.GET('/v1/outputs/{hash}', { params: { path: { hash }, query: { by: 'response' } } }));
      const items = (found?.items ?? []).filter((o) => !root || o.root.toLowerCase() === root.toLowerCase());
      if (items.length === 0) {
        setResult([{ verified: false, lines: [`response hash ${hash}`, `No attested output ${root ? 'of this batch ' : ''}has this response (its leaves may not be uploaded here).`] }]);
        return;
      }
      const out = [];
      for (const item of items) out.push(await checkReceipt(item.receipt as Receipt, request, response));
      setResult(out);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="stack" onSubmit={submit}>
      <label>Request (exact text)<textarea name="request" rows={3} /></label>
      <label>or the request file<input name="request-file" type="file" /></label>
      <label>Response (exact text)<textarea name="response" rows={3} /></label>
      <label>or the response file<input name="response-file" type="file" /></label>
      <button type="submit" disabled={busy}>{busy ? 'Checking…' : 'Find and verify'}</button>
      {result?.map((r, i) => <Verdict key={i} verified={r.verified} lines={r.lines} rpc={r.rpc} testid="find-verdict" />)}
    </form>
  );
}

/** Verifies a receipt in the browser against its chain's RPC endpoint. */
export async function checkReceipt(receipt: Receipt, request?: Uint8Array, response?: Uint8Array) {
  const chain = chainSettings(receipt.chain_id);
  if (!chain?.rpcUrl) return { verified: undefined, lines: [`COULD NOT CHECK: no RPC endpoint is set for chain ${receipt.chain_id}`] };
  try {
    const r = parseReceipt(JSON.stringify(receipt));
    const result = await verifyReceipt(rpcClient(chain.rpcUrl), r, request, response);
    return { verified: result.ok, lines: receiptLines(r, result, { request: !!request, response: !!response }), rpc: chain.rpcUrl };
  } catch (error) {
    return { verified: undefined, lines: [`COULD NOT CHECK: ${short(error)}`], rpc: chain.rpcUrl };
  }
}

export function OutputPage({ hash }: { hash: string }) {
  const outputs = useLoad(() => maybe(api.GET('/v1/outputs/{hash}', { params: { path: { hash }, query: { by: 'any' } } })), [hash]);
  return (
    <>
      <h1>Attested output</h1>
      <p class="hash-title">request or response hash <Mono value={hash} /></p>
      <Loaded load={outputs} what="outputs">
        {(page) =>
          !page || page.items.length === 0 ? <p class="error" role="alert">No uploaded leaf has this request or response hash.</p> : (
            <ol class="claims">
              {page.items.map((o) => <OutputCard key={`${o.root}-${o.leaf_index}`} o={o} />)}
            </ol>
          )}
      </Loaded>
      <Section title="Verify with the exact request and response" id="find">
        <FindOutput />
      </Section>
    </>
  );
}

function OutputCard({ o }: { o: Schemas['AttestedOutput'] }) {
  const [result, setResult] = useState<{ verified?: boolean; lines: string[]; rpc?: string }>();
  const json = JSON.stringify(o.receipt, null, 2);
  return (
    <li class="card">
      <h3>Output {o.leaf_index} of batch <Mono value={o.root} to={`/batch/${o.root}`} /></h3>
      <KV
        rows={[
          ['model version', <><Mono value={o.model_version.version_hash} to={`/model/${o.model_version.version_hash}`} /> by <A to={`/publisher/${o.model_version.publisher}`}>{o.model_version.publisher_name ?? o.model_version.publisher}</A>{o.model_version.revoked && <> <Badge kind="bad">revoked</Badge></>}</>],
          ['request hash', <Mono value={o.leaf.request_hash} />],
          ['response hash', <Mono value={o.leaf.response_hash} />],
          ['produced no later than', <>{o.produced_no_later_than ? when(o.produced_no_later_than) : '—'} <span class="muted">(the anchoring block's time)</span></>],
          ['claimed time', <>{o.claimed_at ? when(o.claimed_at) : '—'} <span class="muted">(the attestor's claim)</span></>],
          ['API says', o.valid ? <Badge kind="ok">valid</Badge> : <Badge kind="bad">{o.reason ?? 'not valid'}</Badge>],
        ]}
      />
      <Pointer p={o.chain} label="anchored" />
      <p>
        <button type="button" onClick={async () => setResult(await checkReceipt(o.receipt as Receipt))}>Verify the receipt in this browser</button>{' '}
        <a download={`receipt-${o.leaf.response_hash.slice(2, 10)}.json`} href={`data:application/json;charset=utf-8,${encodeURIComponent(json)}`}>Download the receipt</a>
      </p>
      {result && <Verdict verified={result.verified} lines={result.lines} rpc={result.rpc} testid="receipt-verdict" />}
    </li>
  );
}

