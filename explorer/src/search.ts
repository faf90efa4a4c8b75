// The search box: what a key is, and which page shows it. A 32-byte hash can be a version hash, a file's SHA-256,
// an output's request or response hash, a batch root or a transaction hash: each is looked up (the API for what it
// indexes, the chain for transactions) and a single hit goes straight to its page.
import { decodeEventLog, getAddress, type Hex } from 'viem';
import { api, maybe } from './api/client';
import { identityAbi, registryAbi } from './chain/abi';
import { rpcClient, type PublicClient } from './chain/rpc';
import { chainSettings, settings, type ChainSettings } from './settings';

export interface Hit {
  kind: 'model version' | 'file' | 'output' | 'output batch' | 'transaction' | 'publisher' | 'address' | 'agent';
  to: string;
  label: string;
}

const HASH = /^0x[0-9a-fA-F]{64}$/;
const ADDRESS = /^0x[0-9a-fA-F]{40}$/;

/** Every page `query` may mean; an empty list when nothing matched, an error when it is no kind of key. */
export async function search(query: string): Promise<Hit[]> {
  const q = query.trim();
  const agent = /^(?:(\d+)[/:#])?#?(\d+)$/.exec(q);
  if (agent) {
    const chainId = agent[1] ? Number(agent[1]) : chainSettings()?.chainId;
    if (chainId === undefined) throw new Error('no chain is indexed: an agent id needs a chain');
    return [{ kind: 'agent', to: `/agent/${chainId}/${agent[2]}`, label: `agent #${agent[2]} on chain ${chainId}` }];
  }
  if (ADDRESS.test(q)) {
    const address = getAddress(q);
    const publisher = await maybe(api.GET('/v1/publishers/{address}', { params: { path: { address } } }));
    if (publisher) return [{ kind: 'publisher', to: `/publisher/${address}`, label: `publisher ${publisher.name}` }];
    return [{ kind: 'address', to: `/address/${address}`, label: `address ${address}` }];
  }
  if (!HASH.test(q)) {
    throw new Error('type a version hash, a file SHA-256, an output, request or response hash, a batch root, a transaction hash, an address or an agent id');
  }
  const hash = q.toLowerCase() as Hex;
  const lookups: Promise<Hit[]>[] = [
    maybe(api.GET('/v1/model-versions/{version_hash}', { params: { path: { version_hash: hash } } })).then((v) =>
      v && v.claims.length ? [{ kind: 'model version', to: `/model/${hash}`, label: `model version (${v.claims.length} claim${v.claims.length === 1 ? '' : 's'})` }] : []),
    maybe(api.GET('/v1/output-batches/{root}', { params: { path: { root: hash } } })).then((b) =>
      b ? [{ kind: 'output batch', to: `/batch/${hash}`, label: `output batch of ${b.leaf_count} outputs` }] : []),
    maybe(api.GET('/v1/outputs/{hash}', { params: { path: { hash }, query: { by: 'any' } } })).then((o) =>
      o && o.items.length ? [{ kind: 'output', to: `/output/${hash}`, label: `attested output (${o.items.length} found)` }] : []),
    filesWithDigest(hash).then((versions) =>
      versions.length ? [{ kind: 'file', to: `/file/${hash}`, label: `file in ${versions.length} registered version${versions.length === 1 ? '' : 's'}` }] : []),
    ...settings().chains.map((chain) => transaction(chain, hash).catch(() => [])),
  ];
  const hits = (await Promise.allSettled(lookups)).flatMap((r) => (r.status === 'fulfilled' ? r.value : []));
  return hits as Hit[];
}

/** The registered versions whose uploaded manifest lists a file with this SHA-256, with its path and size. */
export async function filesWithDigest(sha256: Hex) {
  const answer = await maybe(
    api.POST('/v1/model-versions/match', { body: { files: [{ path: 'searched-file', size: 0, sha256 }] } }),
  );
  const found: { versionHash: Hex; path: string; size: number; claims: number }[] = [];
  for (const candidate of answer?.candidates ?? []) {
    const manifest = await maybe(
      api.GET('/v1/model-versions/{version_hash}/manifest', { params: { path: { version_hash: candidate.version_hash } } }),
    );
    for (const file of manifest?.files ?? []) {
      if (file.sha256.toLowerCase() === sha256) {
        found.push({ versionHash: candidate.version_hash as Hex, path: file.path, size: file.size, claims: candidate.claims.length });
      }
    }
  }
  return found;
}

/** A transaction of one of the chain's indexed contracts, found through the chain's RPC endpoint. */
async function transaction(chain: ChainSettings, hash: Hex): Promise<Hit[]> {
  if (!chain.rpcUrl) return [];
  const client: PublicClient = rpcClient(chain.rpcUrl);
  const receipt = await client.getTransactionReceipt({ hash });
  const ours = [chain.registry, chain.identity, chain.reputation, chain.validation].filter(Boolean).map((a) => a!.toLowerCase());
  const touches = receipt.logs.some((l) => ours.includes(l.address.toLowerCase()));
  return [{
    kind: 'transaction',
    to: `/tx/${hash}?chain=${chain.chainId}`,
    label: `transaction on chain ${chain.chainId}${touches ? '' : ' (it touches none of the indexed contracts)'}`,
  }];
}

/** What a transaction's logs are about, for its page: each log of an indexed contract, decoded, with a link. */
export async function describeTransaction(chain: ChainSettings, hash: Hex) {
  if (!chain.rpcUrl) throw new Error(`no RPC endpoint is set for chain ${chain.chainId}`);
  const client = rpcClient(chain.rpcUrl);
  const receipt = await client.getTransactionReceipt({ hash });
  const rows = receipt.logs.map((log) => {
    const address = log.address.toLowerCase();
    const topic = (i: number) => log.topics[i];
    const id = (i: number) => (topic(i) ? BigInt(topic(i)!).toString() : undefined);
    let event = 'log';
    let to: string | undefined;
    let args: Record<string, unknown> = {};
    if (address === chain.registry?.toLowerCase()) {
      try {
        const decoded = decodeEventLog({ abi: registryAbi, data: log.data, topics: log.topics as never });
        event = decoded.eventName;
        args = decoded.args as Record<string, unknown>;
        const a = args as { versionHash?: string; root?: string; publisher?: string };
        to = a.root ? `/batch/${a.root}` : a.versionHash ? `/model/${a.versionHash}` : a.publisher ? `/publisher/${a.publisher}` : undefined;
      } catch {
        event = 'registry log';
      }
    } else if (address === chain.identity?.toLowerCase()) {
      try {
        const decoded = decodeEventLog({ abi: identityAbi, data: log.data, topics: log.topics as never });
        event = decoded.eventName;
        args = decoded.args as Record<string, unknown>;
      } catch {
        event = 'identity registry log';
      }
      const agent = event === 'Transfer' ? id(3) : id(1);
      if (agent !== undefined) to = `/agent/${chain.chainId}/${agent}`;
    } else if (address === chain.reputation?.toLowerCase()) {
      event = 'reputation registry log';
      if (id(1) !== undefined) to = `/agent/${chain.chainId}/${id(1)}`;
    } else if (address === chain.validation?.toLowerCase()) {
      event = 'validation registry log';
      if (id(2) !== undefined) to = `/agent/${chain.chainId}/${id(2)}`;
    }
    return { logIndex: log.logIndex, address: getAddress(log.address), event, args, to };
  });
  return { receipt, rows };
}
