// Which chains the explorer shows, and for each: the RPC endpoint the in-browser checks use (the server's default
// from /explorer/config.json, or the visitor's own choice, kept in this browser), the block explorer for links, and
// the contracts (from /v1/status, the indexed contracts).
import { getAddress, type Address } from 'viem';
import { api, must } from './api/client';

export interface ChainSettings {
  chainId: number;
  /** The endpoint the checks use now. */
  rpcUrl?: string;
  /** The server's suggestion. */
  defaultRpcUrl?: string;
  /** True when the visitor chose `rpcUrl`. */
  rpcChosen: boolean;
  blockExplorer?: string;
  /** The ProvenanceRegistry: the canonical one, else the first indexed. */
  registry?: Address;
  identity?: Address;
  reputation?: Address;
  validation?: Address;
}

export interface Settings {
  chains: ChainSettings[];
}

interface ConfigAnswer {
  chains: { chain_id: number; rpc_url: string | null; block_explorer: string | null; registry: string | null }[];
}

const RPC_KEY = (chainId: number) => `prova.explorer.rpc.${chainId}`;

let current: Settings | undefined;
const listeners = new Set<() => void>();

/** Loads the settings once (config and status), before the first page renders. */
export async function loadSettings(): Promise<Settings> {
  const [config, status] = await Promise.all([
    fetch(`${location.origin}/explorer/config.json`).then((r) => (r.ok ? (r.json() as Promise<ConfigAnswer>) : { chains: [] })),
    must(api.GET('/v1/status')).catch(() => undefined),
  ]);
  const byId = new Map<number, ChainSettings>();
  const chain = (id: number) => {
    let c = byId.get(id);
    if (!c) {
      c = { chainId: id, rpcChosen: false };
      byId.set(id, c);
    }
    return c;
  };
  for (const c of config.chains) {
    const s = chain(c.chain_id);
    s.defaultRpcUrl = c.rpc_url ?? undefined;
    s.blockExplorer = c.block_explorer ?? undefined;
    if (c.registry) s.registry = getAddress(c.registry);
  }
  for (const row of status?.chains ?? []) {
    const s = chain(row.chain_id);
    const address = getAddress(row.contract);
    if (row.kind === 'provenance') s.registry ??= address;
    else if (row.kind === 'identity') s.identity ??= address;
    else if (row.kind === 'reputation') s.reputation ??= address;
    else if (row.kind === 'validation') s.validation ??= address;
  }
  for (const s of byId.values()) {
    const chosen = localStorage.getItem(RPC_KEY(s.chainId));
    s.rpcUrl = chosen ?? s.defaultRpcUrl;
    s.rpcChosen = chosen !== null;
  }
  current = { chains: [...byId.values()].sort((a, b) => a.chainId - b.chainId) };
  return current;
}

/** The settings loaded at start. */
export function settings(): Settings {
  return current ?? { chains: [] };
}

/** A chain's settings, or the first chain's when `chainId` is not given. */
export function chainSettings(chainId?: number): ChainSettings | undefined {
  const chains = settings().chains;
  return chainId === undefined ? chains[0] : chains.find((c) => c.chainId === chainId);
}

/** Sets (or, with an empty URL, forgets) the visitor's RPC endpoint for a chain. */
export function chooseRpc(chainId: number, url: string) {
  const s = chainSettings(chainId);
  if (!s) return;
  const trimmed = url.trim();
  if (trimmed) localStorage.setItem(RPC_KEY(chainId), trimmed);
  else localStorage.removeItem(RPC_KEY(chainId));
  s.rpcUrl = trimmed || s.defaultRpcUrl;
  s.rpcChosen = !!trimmed;
  listeners.forEach((l) => l());
}

/** Calls `listener` when a setting changes; returns the unsubscribe. */
export function onSettingsChange(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
