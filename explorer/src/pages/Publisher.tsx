// A publisher (admin, attestor keys on a timeline, versions and batches), and any address (every role it has).
import { getAddress, type Address as Addr } from 'viem';
import { api, maybe, must, type Schemas } from '../api/client';
import { identityAbi, registryAbi, reputationAbi } from '../chain/abi';
import { getLogs, rpcClient, short } from '../chain/rpc';
import { iso8601 } from '../chain/verify';
import { settings } from '../settings';
import { A, Address, Badge, Finality, KV, Loaded, Mono, Pointer, Section, useLoad, when } from '../ui';

export function PublisherPage({ address }: { address: string }) {
  const publisher = useLoad(() => maybe(api.GET('/v1/publishers/{address}', { params: { path: { address } } })), [address]);
  const versions = useLoad(() => must(api.GET('/v1/model-versions', { params: { query: { publisher: address, limit: 200 } } })), [address]);
  const batches = useLoad(() => must(api.GET('/v1/output-batches', { params: { query: { publisher: address, limit: 200 } } })), [address]);
  return (
    <>
      <h1>Publisher</h1>
      <Loaded load={publisher} what="the publisher">
        {(p) =>
          !p ? (
            <p class="error" role="alert">No publisher is registered with this id. <A to={`/address/${address}`}>What else is this address?</A></p>
          ) : (
            <>
              <p class="hash-title"><strong>{p.name}</strong> <span class="muted">(its own name: names are not unique)</span></p>
              <KV
                rows={[
                  ['publisher id', <Address value={p.publisher} chainId={p.chain.chain_id} to={`/publisher/${p.publisher}`} />],
                  ['admin', <Address value={p.admin} chainId={p.chain.chain_id} />],
                  ['metadata', p.metadata_uri ? <a href={p.metadata_uri} rel="noopener noreferrer nofollow">{p.metadata_uri}</a> : 'none'],
                  ['registered', when(p.registered_at)],
                  ['versions', String(p.model_versions)],
                ]}
              />
              <Pointer p={p.chain} label="registered" />
              <Section title="Attestor keys" id="keys">
                <KeyTimeline publisher={p} />
              </Section>
            </>
          )}
      </Loaded>
      <Section title="Model versions" id="versions">
        <Loaded load={versions} what="versions">
          {(page) => page.items.length === 0 ? <p class="muted">None.</p> : (
            <ul class="list">
              {page.items.map((v) => (
                <li key={v.version_hash}>
                  <Mono value={v.version_hash} to={`/model/${v.version_hash}`} />
                  <div class="sub">{when(v.registered_at)} <Finality p={v.chain} />{v.parent && <> · fine-tune of <Mono value={v.parent} to={`/model/${v.parent}`} /></>}{v.revocation && <> <Badge kind="bad">revoked</Badge></>}</div>
                </li>
              ))}
            </ul>
          )}
        </Loaded>
      </Section>
      <Section title="Output batches" id="batches">
        <Loaded load={batches} what="batches">
          {(page) => page.items.length === 0 ? <p class="muted">None.</p> : (
            <ul class="list">
              {page.items.map((b) => (
                <li key={b.root}>
                  <Mono value={b.root} to={`/batch/${b.root}`} />
                  <div class="sub">{b.leaf_count} outputs · {when(b.chain.block_time)} <Finality p={b.chain} />{b.revocation && <> <Badge kind="bad">revoked</Badge></>}</div>
                </li>
              ))}
            </ul>
          )}
        </Loaded>
      </Section>
    </>
  );
}

/** Each key as a bar from when it was added to its revocation (or now); compromised from T in red. */
function KeyTimeline({ publisher }: { publisher: Schemas['Publisher'] }) {
  const keys = publisher.attestor_keys;
  if (keys.length === 0) return <p class="muted">No attestor key.</p>;
  const t = (iso: string) => new Date(iso).getTime() / 1000;
  const start = Math.min(t(publisher.registered_at), ...keys.map((k) => t(k.added_at)));
  const now = Date.now() / 1000;
  const end = Math.max(now, start + 1);
  const W = 600, row = 34, left = 8;
  const x = (s: number) => left + ((s - start) / (end - start)) * (W - 2 * left);
  return (
    <>
      <div class="scroll">
        <svg class="timeline" width={W} height={keys.length * row + 24} viewBox={`0 0 ${W} ${keys.length * row + 24}`} role="img"
          aria-label={`Timeline of ${keys.length} attestor keys from ${iso8601(start)} to now`}>
          {keys.map((k, i) => {
            const y = 8 + i * row;
            const added = t(k.added_at);
            const until = k.revoked_at ? t(k.revoked_at) : now;
            return (
              <g key={k.key}>
                <rect x={x(added)} y={y} width={Math.max(3, x(until) - x(added))} height="18" rx="4" class={`bar ${k.status}`} />
                {k.compromised_since != null && (
                  <rect x={x(Math.max(k.compromised_since, start))} y={y} width={Math.max(3, x(until) - x(Math.max(k.compromised_since, start)))} height="18" class="bar compromised-span" />
                )}
                <text x={x(added) + 6} y={y + 13} class="bar-label">{k.key.slice(0, 10)}… {k.status}</text>
              </g>
            );
          })}
          <text x={left} y={keys.length * row + 20} class="axis">{iso8601(start)}</text>
          <text x={W - left} y={keys.length * row + 20} class="axis" text-anchor="end">now</text>
        </svg>
      </div>
      <div class="scroll">
      <table class="table keys">
        <thead><tr><th scope="col">key</th><th scope="col">status</th><th scope="col">added</th><th scope="col">revoked</th><th scope="col">compromised from</th></tr></thead>
        <tbody>
          {keys.map((k) => (
            <tr key={k.key} id={`key-${k.key.toLowerCase()}`}>
              <td><Address value={k.key} chainId={k.chain.chain_id} /></td>
              <td><Badge kind={k.status === 'active' ? 'ok' : 'bad'}>{k.status}</Badge> <Finality p={k.chain} /></td>
              <td>{when(k.added_at)}</td>
              <td>{k.revoked_at ? when(k.revoked_at) : '—'}</td>
              <td>{k.compromised_since != null ? <>{when(k.compromised_since)}<div class="sub">claims and batches signed from then on do not stand</div></> : '—'}</td>
            </tr>
          ))}
        </tbody>
      </table>
      </div>
    </>
  );
}

/** Every role of an address: publisher, attestor key, agent owner, feedback client (the last three read from the
 * chain through the chosen RPC endpoint). */
export function AddressPage({ address }: { address: string }) {
  const a = getAddress(address);
  const publisher = useLoad(() => maybe(api.GET('/v1/publishers/{address}', { params: { path: { address: a } } })), [a]);
  const roles = useLoad(() => chainRoles(a), [a]);
  return (
    <>
      <h1>Address</h1>
      <p class="hash-title"><Address value={a} /></p>
      <Section title="Publisher">
        <Loaded load={publisher} what="publisher">
          {(p) => (p ? <p><A to={`/publisher/${a}`}>{p.name}</A> — a registered publisher.</p> : <p class="muted">Not a publisher.</p>)}
        </Loaded>
      </Section>
      <Loaded load={roles} what="roles on chain">
        {(chains) => (
          <>
            {chains.map((c) => (
              <Section key={c.chainId} title={`On chain ${c.chainId}`} id={`chain-${c.chainId}`}>
                {c.error && <p class="error">Could not read the chain: {c.error}</p>}
                <h3>Attestor key</h3>
                {c.key ? (
                  <p>
                    An attestor key of <A to={`/publisher/${c.key.publisher}#key-${a.toLowerCase()}`}>publisher {c.key.publisher}</A>, added {iso8601(c.key.addedAt)}
                    {c.key.revokedAt ? `, revoked ${iso8601(c.key.revokedAt)}` : ''}
                    {c.key.compromisedSince ? <>, <Badge kind="bad">compromised from {iso8601(c.key.compromisedSince)}</Badge></> : ''}.
                  </p>
                ) : <p class="muted">Not an attestor key.</p>}
                <h3>Agents owned</h3>
                {c.agents.length ? (
                  <ul class="list">{c.agents.map((id) => <li key={id}><A to={`/agent/${c.chainId}/${id}`}>agent #{id}</A></li>)}</ul>
                ) : <p class="muted">None.</p>}
                <h3>Feedback given</h3>
                {c.feedback.length ? (
                  <ul class="list">{c.feedback.map((f) => <li key={`${f.agentId}-${f.index}`}><A to={`/agent/${c.chainId}/${f.agentId}`}>agent #{f.agentId}</A> rated {f.value} (feedback {f.index})</li>)}</ul>
                ) : <p class="muted">None.</p>}
              </Section>
            ))}
            <p class="muted">Attestor keys, agents and feedback above were read from the chain in this browser.</p>
          </>
        )}
      </Loaded>
    </>
  );
}

async function chainRoles(address: Addr) {
  const out = [];
  for (const chain of settings().chains) {
    const row = {
      chainId: chain.chainId,
      key: undefined as undefined | { publisher: Addr; addedAt: number; revokedAt: number; compromisedSince: number },
      agents: [] as string[],
      feedback: [] as { agentId: string; index: string; value: string }[],
      error: undefined as string | undefined,
    };
    out.push(row);
    if (!chain.rpcUrl) {
      row.error = 'no RPC endpoint is set';
      continue;
    }
    const client = rpcClient(chain.rpcUrl);
    try {
      const head = await client.getBlockNumber();
      if (chain.registry) {
        const key = (await client.readContract({ address: chain.registry, abi: registryAbi, functionName: 'getAttestorKey', args: [address] })) as {
          publisher: Addr; addedAt: bigint; revokedAt: bigint; compromisedSince: bigint;
        };
        if (key.publisher !== '0x0000000000000000000000000000000000000000') {
          row.key = { publisher: key.publisher, addedAt: Number(key.addedAt), revokedAt: Number(key.revokedAt), compromisedSince: Number(key.compromisedSince) };
        }
      }
      if (chain.identity) {
        const transfers = await getLogs(client, chain.identity, identityAbi[1], { to: address }, 0n, head);
        const ids = [...new Set(transfers.map((l) => (l.args as { tokenId: bigint }).tokenId))];
        for (const id of ids) {
          const owner = (await client.readContract({ address: chain.identity, abi: identityAbi, functionName: 'ownerOf', args: [id] }).catch(() => undefined)) as Addr | undefined;
          if (owner && owner.toLowerCase() === address.toLowerCase()) row.agents.push(id.toString());
        }
      }
      if (chain.reputation) {
        const logs = await getLogs(client, chain.reputation, reputationAbi[0], { clientAddress: address }, 0n, head);
        row.feedback = logs.map((l) => {
          const a = l.args as { agentId: bigint; feedbackIndex: bigint; value: bigint; valueDecimals: number };
          return { agentId: a.agentId.toString(), index: a.feedbackIndex.toString(), value: a.valueDecimals ? (Number(a.value) / 10 ** a.valueDecimals).toString() : a.value.toString() };
        });
      }
    } catch (error) {
      row.error = short(error);
    }
  }
  return out;
}
