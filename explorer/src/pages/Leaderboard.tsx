// The leaderboard under the plain mean and under seeded trust, side by side: a Sybil ring rating itself 100 rises
// under the mean and falls to the bottom under trust. The trust seeds are shown.
import { api, must, type Schemas } from '../api/client';
import { A, Badge, Loaded, Mono, Section, useLoad } from '../ui';

type Item = Schemas['AgentItem'];

export function LeaderboardPage() {
  const boards = useLoad(
    () => Promise.all((['mean', 'trust'] as const).map((algorithm) => must(api.GET('/v1/agents', { params: { query: { sort: 'reputation', algorithm, limit: 200 } } })))),
    [],
  );
  return (
    <>
      <h1>Leaderboard</h1>
      <p class="lede">
        The same feedback, scored two ways. The <strong>mean</strong> trusts every rating equally, so a ring of fresh
        addresses rating each other 100 rises to the top. <strong>Trust</strong> spreads weight from seed clients
        through who-rated-whom, so ratings from nobody anyone trusts count for little.
      </p>
      <Loaded load={boards} what="the leaderboards">
        {([mean, trust]) => {
          const trustRank = new Map(trust.items.map((i) => [i.agent.agent_id, i.rank]));
          const seeds = trust.items.find((i) => i.score?.params.seeds)?.score?.params.seeds ?? [];
          return (
            <>
              <div class="boards">
                <Board title="Mean" testid="board-mean" items={mean.items} other={trustRank} otherName="trust" />
                <Board title="Trust" testid="board-trust" items={trust.items} />
              </div>
              <Section title="Trust seeds" id="seeds">
                <p class="muted">The clients trust starts from (the API's defaults): their ratings, and those of clients they rate well, count.</p>
                <ul class="list" data-testid="seeds">
                  {seeds.map((s) => <li key={s}><Mono value={s} to={`/address/${s}`} /></li>)}
                </ul>
              </Section>
            </>
          );
        }}
      </Loaded>
    </>
  );
}

function Board({ title, items, testid, other, otherName }: { title: string; items: Item[]; testid: string; other?: Map<string, number | null | undefined>; otherName?: string }) {
  return (
    <section class="board" aria-labelledby={`${testid}-h`}>
      <h2 id={`${testid}-h`}>{title}</h2>
      <table class="table" data-testid={testid}>
        <thead><tr><th scope="col">#</th><th scope="col">agent</th><th scope="col">score</th><th scope="col">verified</th>{other && <th scope="col">{otherName} rank</th>}</tr></thead>
        <tbody>
          {items.map((i) => {
            const s = i.score;
            const unverified = (s?.verified_share ?? 0) === 0;
            return (
              <tr key={i.agent.agent_id} data-agent={i.agent.agent_id} class={unverified ? 'unverified' : ''}>
                <td class="num">{i.rank ?? '—'}</td>
                <td><A to={`/agent/${i.agent.chain_id}/${i.agent.agent_id}`}>#{i.agent.agent_id}</A>{i.model_version && <span class="sub"> runs a registered model</span>}</td>
                <td class="num">{s?.status === 'scored' ? s.score?.toFixed(1) : <Badge kind="warn">no evidence</Badge>}</td>
                <td class="num">{s?.verified_share == null ? '—' : `${Math.round(s.verified_share * 100)}%`}</td>
                {other && <td class="num">{other.get(i.agent.agent_id) ?? '—'}</td>}
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
