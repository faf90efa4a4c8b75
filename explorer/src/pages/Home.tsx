// Home: the search box, the latest registrations, batches and feedback, and how far the indexer is.
import { useState } from 'preact/hooks';
import type { Hex } from 'viem';
import { api, must } from '../api/client';
import { reputationAbi } from '../chain/abi';
import { getLogs, rpcClient } from '../chain/rpc';
import { navigate } from '../router';
import { search, type Hit } from '../search';
import { settings } from '../settings';
import { A, Badge, Finality, Loaded, Mono, Section, useLoad, when } from '../ui';

/** The search box; one hit goes to its page, several to a list. */
export function SearchBox({ compact = false }: { compact?: boolean }) {
  const [busy, setBusy] = useState(false);
  const [problem, setProblem] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const q = String(new FormData(e.currentTarget as HTMLFormElement).get('q') ?? '').trim();
    if (!q) return;
    setBusy(true);
    setProblem(undefined);
    try {
      const hits = await search(q);
      if (hits.length === 1) navigate(hits[0].to);
      else navigate(`/search/${encodeURIComponent(q)}`);
    } catch (error) {
      setProblem(error instanceof Error ? error.message : String(error));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form role="search" class={compact ? 'search compact' : 'search'} onSubmit={submit}>
      <label for={compact ? 'q-top' : 'q'} class={compact ? 'sr-only' : ''}>
        Search a version hash, file SHA-256, output, request or response hash, batch root, transaction hash, address or agent id
      </label>
      <div class="row">
        <input id={compact ? 'q-top' : 'q'} name="q" type="search" autocomplete="off" spellcheck={false} placeholder="0x… or an agent id" aria-describedby={problem ? 'q-problem' : undefined} />
        <button type="submit" disabled={busy}>{busy ? 'Searching…' : 'Search'}</button>
      </div>
      {problem && <p id="q-problem" class="error" role="alert">{problem}</p>}
    </form>
  );
}

/** Fetches every page of a list (up to `maxPages`) and returns the last items: the API lists oldest first. */
async function latest<T>(page: (cursor?: string) => Promise<{ items: T[]; next_cursor?: string | null }>, n: number, maxPages = 10) {
  let items: T[] = [];
  let cursor: string | undefined;
  for (let i = 0; i < maxPages; i++) {
    const p = await page(cursor);
    items = items.concat(p.items).slice(-n);
    if (!p.next_cursor) break;
    cursor = p.next_cursor;
  }
  return items.reverse();
}

export function Home() {
  const versions = useLoad(() => latest((cursor) => must(api.GET('/v1/model-versions', { params: { query: { limit: 200, cursor } } })), 6), []);
  const batches = useLoad(() => latest((cursor) => must(api.GET('/v1/output-batches', { params: { query: { limit: 200, cursor } } })), 6), []);
  const status = useLoad(() => must(api.GET('/v1/status')), []);
  const feedback = useLoad(recentFeedback, []);
  return (
    <>
      <h1>prova explorer</h1>
      <p class="lede">
        Who published a model, what it was fine-tuned from, which outputs it produced and how agents running it are
        rated — with every check you care about run <strong>in your browser, against the chain</strong>, through an RPC
        endpoint you choose. <A to="/verify">Verify a model folder or a receipt</A>.
      </p>
      <SearchBox />
      <div class="grid">
        <Section title="Latest model registrations">
          <Loaded load={versions} what="registrations">
            {(items) =>
              items.length === 0 ? <p class="muted">None yet.</p> : (
                <ul class="list">
                  {items.map((v) => (
                    <li key={`${v.version_hash}-${v.publisher}`}>
                      <Mono value={v.version_hash} to={`/model/${v.version_hash}`} />
                      <div class="sub">
                        {v.publisher_name ?? v.publisher} · {when(v.registered_at)} <Finality p={v.chain} />
                        {v.parent && <> · fine-tune</>}
                        {v.revocation && <> <Badge kind="bad">revoked</Badge></>}
                      </div>
                    </li>
                  ))}
                </ul>
              )}
          </Loaded>
        </Section>
        <Section title="Latest output batches">
          <Loaded load={batches} what="batches">
            {(items) =>
              items.length === 0 ? <p class="muted">None yet.</p> : (
                <ul class="list">
                  {items.map((b) => (
                    <li key={b.root}>
                      <Mono value={b.root} to={`/batch/${b.root}`} />
                      <div class="sub">
                        {b.leaf_count} outputs · {when(b.chain.block_time)} <Finality p={b.chain} />
                        {b.revocation && <> <Badge kind="bad">revoked</Badge></>}
                      </div>
                    </li>
                  ))}
                </ul>
              )}
          </Loaded>
        </Section>
        <Section title="Latest feedback">
          <Loaded load={feedback} what="feedback (from the chain)">
            {(items) =>
              items.length === 0 ? <p class="muted">None found in the latest blocks.</p> : (
                <ul class="list">
                  {items.map((f) => (
                    <li key={`${f.tx}-${f.logIndex}`}>
                      <A to={`/agent/${f.chainId}/${f.agentId}`}>agent #{f.agentId}</A> rated {f.value} by{' '}
                      <Mono value={f.client} to={`/address/${f.client}`} />
                      <div class="sub">block {f.block} · chain {f.chainId} (read from the chain)</div>
                    </li>
                  ))}
                </ul>
              )}
          </Loaded>
        </Section>
        <Section title="Indexer status">
          <Loaded load={status} what="status">
            {(s) => (
              <>
                <table class="table">
                  <caption class="sr-only">Lag of each indexed chain</caption>
                  <thead><tr><th scope="col">chain</th><th scope="col">head</th><th scope="col">finalized</th><th scope="col">lag</th></tr></thead>
                  <tbody>
                    {s.lag_by_chain.map((c) => (
                      <tr key={c.chain_id}>
                        <td>{c.chain_id}</td><td>{c.head_block}</td><td>{c.finalized_block}</td>
                        <td><Badge kind={(c.lag_blocks ?? 0) === 0 ? 'ok' : (c.lag_blocks ?? 0) < 64 ? 'warn' : 'bad'}>{c.lag_blocks ?? '?'} blocks</Badge></td>
                      </tr>
                    ))}
                  </tbody>
                </table>
                <details>
                  <summary>Each indexed contract</summary>
                  <ul class="list">
                    {s.chains.map((c) => (
                      <li key={`${c.chain_id}-${c.contract}`}>
                        {c.kind} <Mono value={c.contract} /> — block {c.indexed_block} of {c.head_block}
                        {c.last_error && <div class="error">last error: {c.last_error}</div>}
                      </li>
                    ))}
                  </ul>
                </details>
              </>
            )}
          </Loaded>
        </Section>
      </div>
    </>
  );
}

/** The latest feedback of each chain's reputation registry, read from its logs. */
async function recentFeedback() {
  const out: { chainId: number; agentId: string; client: string; value: string; block: string; tx: Hex; logIndex: number }[] = [];
  for (const chain of settings().chains) {
    if (!chain.rpcUrl || !chain.reputation) continue;
    const client = rpcClient(chain.rpcUrl);
    const head = await client.getBlockNumber();
    const from = head > 5000n ? head - 5000n : 0n;
    const logs = await getLogs(client, chain.reputation, reputationAbi[0], undefined, from, head);
    for (const log of logs.slice(-6).reverse()) {
      const a = log.args as { agentId: bigint; clientAddress: string; value: bigint; valueDecimals: number };
      const value = a.valueDecimals ? (Number(a.value) / 10 ** a.valueDecimals).toString() : a.value.toString();
      out.push({ chainId: chain.chainId, agentId: a.agentId.toString(), client: a.clientAddress, value, block: String(log.blockNumber), tx: log.transactionHash, logIndex: log.logIndex });
    }
  }
  return out;
}

/** Several pages a key may mean. */
export function SearchPage({ query }: { query: string }) {
  const hits = useLoad(() => search(query), [query]);
  return (
    <>
      <h1>Search</h1>
      <SearchBox />
      <p>Results for <code class="mono">{query}</code>:</p>
      <Loaded load={hits} what="results">
        {(list: Hit[]) =>
          list.length === 0 ? (
            <p>Nothing indexed matches it: no model version, file, output, batch or transaction of the indexed contracts.</p>
          ) : (
            <ul class="list" data-testid="search-results">
              {list.map((h) => (
                <li key={h.to}><A to={h.to}>{h.kind}</A> — {h.label}</li>
              ))}
            </ul>
          )}
      </Loaded>
    </>
  );
}
