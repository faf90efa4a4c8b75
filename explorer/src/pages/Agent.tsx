// An ERC-8004 agent: identity, owner, wallet, metadata, the model version it declares with that version's
// provenance, feedback (verified, revoked, responses), validations, its reputation under every algorithm side by
// side with the inputs of each, and its running score over time.
import { api, maybe, must, type Schemas } from '../api/client';
import { A, Address, Badge, Finality, KV, Loaded, Mono, Pointer, Section, useLoad, when } from '../ui';

const ALGORITHMS = ['mean', 'bayesian', 'decay', 'trust'] as const;

export function AgentPage({ chainId, agentId }: { chainId: number; agentId: string }) {
  const path = { chain_id: chainId, agent_id: agentId };
  const agent = useLoad(() => maybe(api.GET('/v1/agents/{chain_id}/{agent_id}', { params: { path } })), [chainId, agentId]);
  const feedback = useLoad(() => must(api.GET('/v1/agents/{chain_id}/{agent_id}/feedback', { params: { path, query: { limit: 200 } } })), [chainId, agentId]);
  const validations = useLoad(() => must(api.GET('/v1/agents/{chain_id}/{agent_id}/validations', { params: { path, query: { limit: 200 } } })), [chainId, agentId]);
  const scores = useLoad(
    () => Promise.all(ALGORITHMS.map((algorithm) => must(api.GET('/v1/agents/{chain_id}/{agent_id}/reputation', { params: { path, query: { algorithm } } })))),
    [chainId, agentId],
  );
  return (
    <>
      <h1>Agent #{agentId}</h1>
      <p class="muted">chain {chainId}</p>
      <Loaded load={agent} what="the agent">
        {(a) => !a ? <p class="error" role="alert">No agent with this id is registered in the indexed identity registry.</p> : <Identity a={a} />}
      </Loaded>
      <Section title="Reputation under every algorithm" id="reputation">
        <Loaded load={scores} what="scores">
          {(list) => <Scores list={list} />}
        </Loaded>
      </Section>
      <Section title="Score over time" id="chart">
        <Loaded load={feedback} what="feedback">
          {(page) => <ScoreChart items={page.items} />}
        </Loaded>
      </Section>
      <Section title="Feedback" id="feedback">
        <Loaded load={feedback} what="feedback">
          {(page) => <FeedbackList items={page.items} more={!!page.next_cursor} chainId={chainId} />}
        </Loaded>
      </Section>
      <Section title="Validations" id="validations">
        <Loaded load={validations} what="validations">
          {(page) => page.items.length === 0 ? <p class="muted">No validation requests.</p> : (
            <ul class="list">
              {page.items.map((v) => (
                <li key={v.request_hash}>
                  request <Mono value={v.request_hash} /> to validator <Address value={v.validator} chainId={chainId} />
                  <div class="sub">
                    {when(v.requested_at)} <Finality p={v.chain} /> ·{' '}
                    {v.response ? <>answered {v.response.response}/100{v.response.tag && ` (${v.response.tag})`} at {when(v.response.responded_at)}</> : 'no answer yet'}
                  </div>
                </li>
              ))}
            </ul>
          )}
        </Loaded>
      </Section>
    </>
  );
}

function Identity({ a }: { a: Schemas['Agent'] }) {
  const m = a.model;
  return (
    <>
      <KV
        rows={[
          ['owner', <Address value={a.owner} chainId={a.chain_id} />],
          ['wallet', a.wallet ? <Address value={a.wallet} chainId={a.chain_id} /> : 'none'],
          ['agent URI', <a href={a.agent_uri} rel="noopener noreferrer nofollow">{a.agent_uri}</a>],
          ['identity registry', <Mono value={a.identity_registry} />],
          ['feedback', `${a.feedback.total} (${a.feedback.verified} verified, ${a.feedback.revoked} revoked) from ${a.feedback.distinct_clients} clients`],
          ['validations', `${a.validations.requests} requests, ${a.validations.responded} answered`],
        ]}
      />
      <Pointer p={a.registered} label="registered" />
      {a.metadata.length > 0 && (
        <Section title="Metadata" id="metadata">
          <KV rows={a.metadata.map((e) => [e.key, e.value_utf8 ?? <Mono value={e.value} />])} />
          {a.metadata_truncated && <p class="muted">More keys exist than shown.</p>}
        </Section>
      )}
      <Section title="Model" id="model">
        {!m ? <p class="muted">The agent declares no model version.</p> : (
          <div class="card">
            <p>
              Runs <Mono value={m.version_hash} to={`/model/${m.version_hash}`} />{' '}
              <Badge kind={m.status === 'registered' ? 'ok' : 'bad'}>{m.status.replace(/_/g, ' ')}</Badge>{' '}
              <span class="muted">(declared by the {m.claimed_by.replace(/_/g, ' ')})</span>
            </p>
            {m.claims.length > 0 && (
              <ul class="list">
                {m.claims.map((c) => (
                  <li key={c.publisher}>
                    claimed by <A to={`/publisher/${c.publisher}`}>{c.publisher_name ?? c.publisher}</A> · {when(c.registered_at)} <Finality p={c.chain} />
                    {c.revocation && <> <Badge kind="bad">revoked</Badge></>}
                    {c.signed_by_compromised_key && <> <Badge kind="bad">compromised key</Badge></>}
                    {c.parent && <> · fine-tune of <Mono value={c.parent} to={`/model/${c.parent}`} /></>}
                  </li>
                ))}
              </ul>
            )}
            <Pointer p={m.chain} label="declared" />
          </div>
        )}
      </Section>
    </>
  );
}

function fmt(n: number | null | undefined, digits = 2) {
  return n == null ? '—' : Number.isInteger(n) ? String(n) : n.toFixed(digits);
}

function Scores({ list }: { list: Schemas['Reputation'][] }) {
  return (
    <div class="scroll">
      <table class="table scores" data-testid="scores">
        <caption class="sr-only">The agent's score under each algorithm, with its inputs</caption>
        <thead>
          <tr><th scope="col">algorithm</th>{list.map((r) => <th scope="col" key={r.score.params.algorithm}>{r.score.params.algorithm}</th>)}</tr>
        </thead>
        <tbody>
          <tr><th scope="row">score</th>{list.map((r, i) => <td key={i} class="num big">{r.score.status === 'scored' ? fmt(r.score.score) : <Badge kind="warn">insufficient evidence</Badge>}</td>)}</tr>
          <tr><th scope="row">feedback counted</th>{list.map((r, i) => <td key={i} class="num">{r.score.count}</td>)}</tr>
          <tr><th scope="row">distinct clients</th>{list.map((r, i) => <td key={i} class="num">{r.score.distinct_clients}</td>)}</tr>
          <tr><th scope="row">verified share</th>{list.map((r, i) => <td key={i} class="num">{r.score.verified_share == null ? '—' : `${Math.round(r.score.verified_share * 100)}%`}</td>)}</tr>
          <tr><th scope="row">filtered out / out of range</th>{list.map((r, i) => <td key={i} class="num">{r.score.filtered_out} / {r.score.out_of_range}</td>)}</tr>
          <tr>
            <th scope="row">parameters</th>
            {list.map((r, i) => {
              const p = r.score.params;
              const parts = [
                p.prior_mean != null && `prior mean ${fmt(p.prior_mean)}`,
                p.prior_weight != null && `prior weight ${fmt(p.prior_weight)}`,
                p.half_life_secs != null && `half-life ${p.half_life_secs} s`,
                p.alpha != null && `alpha ${fmt(p.alpha)}`,
                p.seeds && `${p.seeds.length} seeds`,
              ].filter(Boolean);
              return <td key={i}>{parts.length ? parts.join(', ') : 'none'}</td>;
            })}
          </tr>
          <tr>
            <th scope="row">trust</th>
            {list.map((r, i) => <td key={i}>{r.score.trust ? `mass ${fmt(r.score.trust.trust_mass, 3)} (min ${fmt(r.score.trust.min_trust_mass, 3)}), ${r.score.trust.trusted_clients} trusted clients, owner trust ${fmt(r.score.trust.owner_trust, 3)}` : '—'}</td>)}
          </tr>
          <tr><th scope="row">as of block</th>{list.map((r, i) => <td key={i} class="num">{r.as_of_block ?? '—'}</td>)}</tr>
        </tbody>
      </table>
    </div>
  );
}

/** The running mean of the feedback values over time (revoked feedback left out), verified feedback marked. */
function ScoreChart({ items }: { items: Schemas['FeedbackItem'][] }) {
  const points = items
    .filter((f) => !f.revoked)
    .map((f) => ({ t: new Date(f.given_at).getTime(), v: Number(f.value) / 10 ** f.value_decimals, verified: f.verified }))
    .sort((a, b) => a.t - b.t);
  if (points.length === 0) return <p class="muted">No feedback yet.</p>;
  let sum = 0;
  const running = points.map((p, i) => ((sum += p.v), { ...p, mean: sum / (i + 1), i }));
  const W = 600, H = 200, P = 32;
  const lo = Math.min(0, ...running.map((p) => Math.min(p.v, p.mean)));
  const hi = Math.max(100, ...running.map((p) => Math.max(p.v, p.mean)));
  const x = (i: number) => P + (running.length === 1 ? (W - 2 * P) / 2 : (i / (running.length - 1)) * (W - 2 * P));
  const y = (v: number) => H - P - ((v - lo) / (hi - lo)) * (H - 2 * P);
  const path = running.map((p, i) => `${i ? 'L' : 'M'}${x(i).toFixed(1)},${y(p.mean).toFixed(1)}`).join(' ');
  const last = running[running.length - 1];
  return (
    <figure class="chart">
      <div class="scroll">
        <svg width={W} height={H} viewBox={`0 0 ${W} ${H}`} role="img" aria-label={`Running mean of ${running.length} feedback values, from ${fmt(running[0].mean)} to ${fmt(last.mean)}`}>
          <line x1={P} y1={y(lo)} x2={W - P} y2={y(lo)} class="axis-line" />
          <line x1={P} y1={y(hi)} x2={P} y2={y(lo)} class="axis-line" />
          {[lo, (lo + hi) / 2, hi].map((v) => <text key={v} x={P - 4} y={y(v) + 4} text-anchor="end" class="axis">{fmt(v, 0)}</text>)}
          {running.map((p, i) => <circle key={i} cx={x(i)} cy={y(p.v)} r="3" class={p.verified ? 'dot verified' : 'dot'} />)}
          <path d={path} class="line" />
          <text x={P} y={H - 8} class="axis">{when(running[0].t / 1000)}</text>
          <text x={W - P} y={H - 8} class="axis" text-anchor="end">{when(last.t / 1000)}</text>
        </svg>
      </div>
      <figcaption class="muted">Line: the running mean of feedback values in the order given (the mean algorithm over time). Dots: each value; filled dots are verified by an interaction receipt.</figcaption>
    </figure>
  );
}

function FeedbackList({ items, more, chainId }: { items: Schemas['FeedbackItem'][]; more: boolean; chainId: number }) {
  if (items.length === 0) return <p class="muted">No feedback.</p>;
  return (
    <>
      <div class="scroll">
        <table class="table" data-testid="feedback">
          <thead><tr><th scope="col">client</th><th scope="col">value</th><th scope="col">status</th><th scope="col">responses</th><th scope="col">given</th></tr></thead>
          <tbody>
            {items.map((f) => (
              <tr key={`${f.client}-${f.feedback_index}`}>
                <td><Address value={f.client} chainId={chainId} /></td>
                <td class="num">{Number(f.value) / 10 ** f.value_decimals}{f.tag1 && <div class="sub">{f.tag1}{f.tag2 && ` · ${f.tag2}`}</div>}</td>
                <td>
                  {f.verified ? <Badge kind="ok">verified</Badge> : <Badge kind="info">no receipt</Badge>}{' '}
                  {f.revoked && <Badge kind="bad">revoked</Badge>}
                </td>
                <td class="num">{f.responses}</td>
                <td>{when(f.given_at)} <Finality p={f.chain} /></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {more && <p class="muted">The first {items.length} shown.</p>}
    </>
  );
}
