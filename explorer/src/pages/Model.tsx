// A model version: every publisher's claim in priority order, the attestor keys and their status, revocations,
// the manifest's files (each provable), and the lineage drawn as a graph. "Check on chain" recomputes the
// verdict in the browser from the registry alone.
import { useState } from 'preact/hooks';
import type { Address as Addr, Hex } from 'viem';
import { api, maybe, type Schemas } from '../api/client';
import { MerkleTree, fileLeaf, type FileEntry } from '../chain/merkle';
import { CouldNotCheck, rpcClient, short } from '../chain/rpc';
import { claimLines, modelVerdictLine, proveFile, verifyFileProof, verifyModelVersion, type FileProof } from '../chain/verify';
import { filesWithDigest } from '../search';
import { chainSettings } from '../settings';
import { A, Address, Badge, KV, Loaded, Mono, Pointer, Section, Verdict, bytes, useLoad, when } from '../ui';

type Claim = Schemas['ModelVersion'];
type LineageItem = Schemas['LineageItem'];

export function ModelPage({ hash, file }: { hash: string; file?: string }) {
  const lineage = useLoad(() => maybe(api.GET('/v1/model-versions/{version_hash}/lineage', { params: { path: { version_hash: hash } } })), [hash]);
  const manifest = useLoad(() => maybe(api.GET('/v1/model-versions/{version_hash}/manifest', { params: { path: { version_hash: hash } } })), [hash]);
  return (
    <>
      <h1>Model version</h1>
      <p class="hash-title"><Mono value={hash} /></p>
      <Loaded load={lineage} what="the version">
        {(l) =>
          !l ? (
            <p class="error" role="alert">No publisher has claimed this version hash in the indexed registries.</p>
          ) : (
            <>
              <ModelNames claims={l.claims} />
              <ChainCheck hash={hash as Hex} claims={l.claims} />
              <Section title={`Claims (${l.claims.length})`} id="claims">
                <p class="muted">
                  Every publisher's claim of this hash, in priority order: who committed first. Priority does not prove
                  authorship; each claim stands or falls on its own.
                </p>
                <ol class="claims" data-testid="claims">
                  {l.claims.map((c) => <ClaimCard key={`${c.publisher}-${c.chain.contract}`} claim={c} />)}
                </ol>
              </Section>
              <Section title="Lineage" id="lineage">
                <LineageGraph hash={hash} lineage={l} />
              </Section>
            </>
          )}
      </Loaded>
      <Section title="Files" id="files">
        <Loaded load={manifest} what="the manifest">
          {(m) =>
            !m ? (
              <p class="muted">No manifest of this version was uploaded to this API; the publisher's tools can upload one (`prova model upload-manifest`).</p>
            ) : (
              <FileTable hash={hash as Hex} files={m.files as FileEntry[]} highlight={file} />
            )}
        </Loaded>
      </Section>
    </>
  );
}

/** The model names the claimants gave (each checked on-chain against its model id), beside the hash. */
function ModelNames({ claims }: { claims: { model_name?: string | null; publisher_name?: string | null; publisher: string }[] }) {
  const named = claims.filter((c) => c.model_name);
  if (named.length === 0) return <p class="muted" data-testid="model-names">No claimant published a model name, only its hash.</p>;
  return (
    <p class="model-names" data-testid="model-names">
      {named.map((c, i) => <>{i > 0 && ' · '}<strong>{c.model_name}</strong> <span class="muted">per {c.publisher_name ?? c.publisher}</span></>)}
    </p>
  );
}

/** A lineage node's label: the model name when its publisher gave one, then the publisher. */
function nodeLabel(c: { model_name?: string | null; publisher_name?: string | null; publisher: string }): string {
  const who = c.publisher_name ?? c.publisher;
  return c.model_name ? `${c.model_name} · ${who}` : who;
}

/** One claim with its publisher, key status, revocation and chain pointer. */
function ClaimCard({ claim: c }: { claim: Claim }) {
  const publisher = useLoad(() => maybe(api.GET('/v1/publishers/{address}', { params: { path: { address: c.publisher } } })), [c.publisher]);
  return (
    <li class="card">
      <h3>
        <A to={`/publisher/${c.publisher}`}>{c.publisher_name ?? 'unnamed publisher'}</A>{' '}
        {c.revocation ? <Badge kind="bad">revoked</Badge> : c.signed_by_compromised_key ? <Badge kind="bad">signed by a compromised key</Badge> : <Badge kind="ok">stands</Badge>}
      </h3>
      <KV
        rows={[
          ['publisher', <Address value={c.publisher} chainId={c.chain.chain_id} to={`/publisher/${c.publisher}`} />],
          ['attestor key', <>
            <Address value={c.attestor} chainId={c.chain.chain_id} />{' '}
            <Loaded load={publisher} what="key status">
              {(p) => {
                const key = p?.attestor_keys.find((k) => k.key.toLowerCase() === c.attestor.toLowerCase());
                if (!key) return <Badge kind="warn">unknown key</Badge>;
                return <Badge kind={key.status === 'active' ? 'ok' : 'bad'}>{key.status}{key.compromised_since ? ` from ${when(key.compromised_since)}` : ''}</Badge>;
              }}
            </Loaded>
          </>],
          ['compromised key', c.signed_by_compromised_key ? <Badge kind="bad">yes: signed at or after the key's compromise time</Badge> : 'no'],
          ['priority block', <>{c.priority_block}{c.committed_block ? ` (commitment at ${when(c.committed_at ?? '')})` : ' (no commitment: its own block)'}</>],
          ['registered', when(c.registered_at)],
          ['parent', c.parent ? <Mono value={c.parent} to={`/model/${c.parent}`} /> : 'none (a base model)'],
          ['model', c.model_name ? <><strong>{c.model_name}</strong> (id <Mono value={c.model_id} />)</> : <><Mono value={c.model_id} /> (the publisher published no name)</>],
          ['metadata', <>{c.metadata_uri ? <a href={c.metadata_uri} rel="noopener noreferrer nofollow">{c.metadata_uri}</a> : 'none'}{c.metadata_hash && <> (hash <Mono value={c.metadata_hash} />)</>}</>],
          ...(c.revocation ? [['revocation', <><strong>{c.revocation.reason || 'no reason given'}</strong><Pointer p={c.revocation.chain} label="revoked" /></>] as [string, preact.ComponentChildren]] : []),
        ]}
      />
      <Pointer p={c.chain} label="registered" />
    </li>
  );
}

/** Recomputes the claims from the registry through the chosen RPC endpoint. */
function ChainCheck({ hash, claims }: { hash: Hex; claims: Claim[] }) {
  const chainId = claims[0]?.chain.chain_id;
  const chain = chainSettings(chainId);
  const registry = (chain?.registry ?? claims[0]?.chain.contract) as Addr | undefined;
  const [result, setResult] = useState<{ verified?: boolean; lines: string[] }>();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    if (!chain?.rpcUrl || !registry) return;
    setBusy(true);
    try {
      const v = await verifyModelVersion(rpcClient(chain.rpcUrl), registry, hash, undefined, chainId);
      const { verified, line } = modelVerdictLine(v, 'this hash');
      setResult({ verified, lines: [`version hash  ${hash}`, `registry      ${v.registry} on chain ${v.chainId}`, ...claimLines(v), line] });
    } catch (error) {
      setResult({ verified: undefined, lines: [`COULD NOT CHECK: ${error instanceof CouldNotCheck ? error.message : short(error)}`] });
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="check">
      <button type="button" onClick={run} disabled={busy || !chain?.rpcUrl}>{busy ? 'Checking…' : 'Check these claims on chain'}</button>{' '}
      <span class="muted">reads the registry {registry && <code class="mono">{registry}</code>} through {chain?.rpcUrl ?? 'no RPC endpoint (set one above)'}</span>
      {result && <Verdict verified={result.verified} lines={result.lines} rpc={chain?.rpcUrl} testid="model-verdict" />}
    </div>
  );
}

/** The lineage: ancestors above, descendants below, each node's status. */
function LineageGraph({ hash, lineage }: { hash: string; lineage: Schemas['Lineage'] }) {
  const self = lineage.claims[0];
  const nodes: { hash: string; parent?: string | null; depth: number; label: string; status: 'ok' | 'revoked' | 'compromised'; self?: boolean }[] = [];
  const statusOf = (i: { revoked: boolean; signed_by_compromised_key: boolean }) => (i.revoked ? 'revoked' : i.signed_by_compromised_key ? 'compromised' : 'ok') as 'ok' | 'revoked' | 'compromised';
  const seen = new Set<string>();
  const add = (n: (typeof nodes)[number]) => {
    const key = `${n.hash}@${n.depth}`;
    if (!seen.has(key)) {
      seen.add(key);
      nodes.push(n);
    }
  };
  lineage.ancestors.forEach((a: LineageItem) => add({ hash: a.version_hash, parent: a.parent, depth: -a.depth, label: nodeLabel(a), status: statusOf(a) }));
  add({
    hash,
    parent: self?.parent,
    depth: 0,
    label: self ? nodeLabel(self) : '',
    status: self ? statusOf({ revoked: !!self.revocation, signed_by_compromised_key: self.signed_by_compromised_key }) : 'ok',
    self: true,
  });
  lineage.descendants.forEach((d: LineageItem) => add({ hash: d.version_hash, parent: d.parent, depth: d.depth, label: nodeLabel(d), status: statusOf(d) }));
  const depths = [...new Set(nodes.map((n) => n.depth))].sort((a, b) => a - b);
  const rows = depths.map((d) => nodes.filter((n) => n.depth === d));
  const W = 230, H = 64, GX = 24, GY = 40;
  const width = Math.max(...rows.map((r) => r.length)) * (W + GX) - GX + 8;
  const height = rows.length * (H + GY) - GY + 8;
  const pos = new Map<string, { x: number; y: number }>();
  rows.forEach((row, r) => row.forEach((n, c) => pos.set(`${n.hash}@${n.depth}`, { x: 4 + c * (W + GX), y: 4 + r * (H + GY) })));
  const edges: { from: { x: number; y: number }; to: { x: number; y: number } }[] = [];
  for (const n of nodes) {
    if (!n.parent) continue;
    const parent = nodes.find((p) => p.hash === n.parent && p.depth < n.depth);
    if (parent) edges.push({ from: pos.get(`${parent.hash}@${parent.depth}`)!, to: pos.get(`${n.hash}@${n.depth}`)! });
  }
  const statusText = { ok: 'stands', revoked: 'revoked', compromised: 'compromised key' };
  return (
    <figure class="lineage" data-testid="lineage">
      <div class="scroll">
        <svg width={width} height={height} viewBox={`0 0 ${width} ${height}`} role="group" aria-label={`Lineage: ${lineage.ancestors.length} ancestors, ${lineage.descendants.length} descendants`}>
          {edges.map((e, i) => (
            <line key={i} x1={e.from.x + W / 2} y1={e.from.y + H} x2={e.to.x + W / 2} y2={e.to.y} class="edge" marker-end="url(#arrow)" />
          ))}
          <defs>
            <marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path d="M 0 0 L 10 5 L 0 10 z" class="arrow" />
            </marker>
          </defs>
          {nodes.map((n) => {
            const p = pos.get(`${n.hash}@${n.depth}`)!;
            const body = (
              <g class={`node ${n.status}${n.self ? ' self' : ''}`} transform={`translate(${p.x},${p.y})`}>
                <rect width={W} height={H} rx="8" />
                <text x="10" y="22" class="node-hash">{`${n.hash.slice(0, 10)}…${n.hash.slice(-6)}`}</text>
                <text x="10" y="40">{n.label.length > 28 ? `${n.label.slice(0, 27)}…` : n.label}</text>
                <text x="10" y="56" class="node-status">{n.self ? 'this version · ' : n.depth < 0 ? `ancestor ${-n.depth} · ` : `descendant ${n.depth} · `}{statusText[n.status]}</text>
              </g>
            );
            return n.self ? <g key={n.hash}>{body}</g> : (
              <a key={`${n.hash}${n.depth}`} href={`/explorer/model/${n.hash}`} aria-label={`${n.depth < 0 ? 'ancestor' : 'descendant'} ${n.hash}, ${statusText[n.status]}`}>{body}</a>
            );
          })}
        </svg>
      </div>
      <figcaption class="muted">
        Parent links are each publisher's own claim of lineage.{lineage.ancestors_truncated && ' The ancestry is longer than shown.'}
        {lineage.descendants_next_cursor && ' More descendants exist than shown.'}
      </figcaption>
    </figure>
  );
}

/** The manifest's files, each with a "prove" action that builds its Merkle proof in the browser. */
function FileTable({ hash, files, highlight }: { hash: Hex; files: FileEntry[]; highlight?: string }) {
  const [proving, setProving] = useState<FileEntry>();
  const total = files.reduce((n, f) => n + f.size, 0);
  return (
    <>
      <p class="muted">{files.length} files, {bytes(total)}, from the manifest uploaded to this API. A file's proof is built here and checked against this version hash.</p>
      <div class="scroll">
        <table class="table files" data-testid="files">
          <thead><tr><th scope="col">path</th><th scope="col">size</th><th scope="col">SHA-256</th><th scope="col"><span class="sr-only">action</span></th></tr></thead>
          <tbody>
            {files.map((f) => (
              <tr key={f.path} class={highlight && f.sha256.toLowerCase() === highlight.toLowerCase() ? 'highlight' : ''}>
                <td>{f.path}</td>
                <td class="num">{f.size.toLocaleString('en')}</td>
                <td><Mono value={f.sha256} to={`/file/${f.sha256.toLowerCase()}`} /></td>
                <td><button type="button" class="small" onClick={() => setProving(f)} aria-label={`Prove ${f.path}`}>Prove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {proving && <FileProofPanel hash={hash} files={files} entry={proving} />}
    </>
  );
}

function FileProofPanel({ hash, files, entry }: { hash: Hex; files: FileEntry[]; entry: FileEntry }) {
  const tree = new MerkleTree(files.map(fileLeaf));
  const proof = tree.proof(fileLeaf(entry));
  const [result, setResult] = useState<{ verified?: boolean; lines: string[] }>();
  const chain = chainSettings();
  if (tree.root !== hash.toLowerCase() || !proof) {
    return <p class="error" role="alert">The uploaded manifest's files hash to {tree.root}, not to this version: no proof can be built from it.</p>;
  }
  const doc: FileProof = proveFile(entry, proof, hash);
  const json = JSON.stringify(doc, null, 2);
  const check = async () => {
    if (!chain?.rpcUrl || !chain.registry) return;
    try {
      setResult(await verifyFileProof(rpcClient(chain.rpcUrl), chain.registry, doc));
    } catch (error) {
      setResult({ verified: undefined, lines: [`COULD NOT CHECK: ${short(error)}`] });
    }
  };
  return (
    <div class="card" data-testid="file-proof">
      <h3>Proof that {entry.path} is a file of this version</h3>
      <p class="muted">Built in this browser from the manifest. Anyone can check it with the registry's <code>verifyFile</code>, <code>prova verify</code>, or OpenZeppelin's <code>StandardMerkleTree.verify</code>.</p>
      <pre class="json">{json}</pre>
      <p>
        <a download={`${entry.path.replace(/[^A-Za-z0-9._-]+/g, '_')}.proof.json`} href={`data:application/json;charset=utf-8,${encodeURIComponent(json)}`}>Download the proof</a>{' '}
        <button type="button" onClick={check} disabled={!chain?.rpcUrl}>Check it on chain</button>
      </p>
      {result && <Verdict verified={result.verified} lines={result.lines} rpc={chain?.rpcUrl} testid="file-proof-verdict" />}
    </div>
  );
}

/** The registered versions that hold a file with this SHA-256. */
export function FilePage({ sha256 }: { sha256: string }) {
  const found = useLoad(() => filesWithDigest(sha256 as Hex), [sha256]);
  return (
    <>
      <h1>File</h1>
      <p class="hash-title">SHA-256 <Mono value={sha256} /></p>
      <Loaded load={found} what="the versions holding it">
        {(list) =>
          list.length === 0 ? (
            <p>No uploaded manifest of a registered version lists a file with this digest.</p>
          ) : (
            <>
              <p>In {list.length} registered version{list.length === 1 ? '' : 's'} (from their uploaded manifests; each version's page proves the file):</p>
              <ul class="list" data-testid="file-versions">
                {list.map((v) => (
                  <li key={`${v.versionHash}-${v.path}`}>
                    <Mono value={v.versionHash} to={`/model/${v.versionHash}?file=${sha256}`} />
                    <div class="sub">as <code>{v.path}</code>, {bytes(v.size)} · {v.claims} claim{v.claims === 1 ? '' : 's'}</div>
                  </li>
                ))}
              </ul>
            </>
          )}
      </Loaded>
    </>
  );
}

