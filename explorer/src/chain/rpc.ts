// JSON-RPC access from the browser: a viem client per endpoint, and `eth_getLogs` that splits a range the
// endpoint refuses (as `prova_chain::get_logs` pages it).
import { createClient, http, type AbiEvent, type Address, type Log } from 'viem';
import { getBlockNumber, getChainId, getCode, getLogs as logs, getTransactionReceipt, readContract } from 'viem/actions';

/** A client with only the reads the explorer makes (viem's full public client would double the bundle). */
function makeClient(url: string) {
  const base = createClient({ transport: http(url, { retryCount: 1, timeout: 20_000 }) });
  return {
    getChainId: () => getChainId(base),
    getCode: (args: Parameters<typeof getCode>[1]) => getCode(base, args),
    getBlockNumber: () => getBlockNumber(base, { cacheTime: 0 }),
    getLogs: (args: Parameters<typeof logs>[1]) => logs(base, args),
    getTransactionReceipt: (args: Parameters<typeof getTransactionReceipt>[1]) => getTransactionReceipt(base, args),
    readContract: (args: Parameters<typeof readContract>[1]) => readContract(base, args),
  };
}

/** A JSON-RPC client of one endpoint. */
export type PublicClient = ReturnType<typeof makeClient>;

const clients = new Map<string, PublicClient>();

/** A client of `url` (one per endpoint). */
export function rpcClient(url: string): PublicClient {
  let client = clients.get(url);
  if (!client) {
    client = makeClient(url);
    clients.set(url, client);
  }
  return client;
}

/** The logs of `event` from `address` in blocks `from..=to`, halving ranges the endpoint refuses. */
export async function getLogs<E extends AbiEvent>(
  client: PublicClient,
  address: Address,
  event: E,
  args: Record<string, unknown> | undefined,
  from: bigint,
  to: bigint,
): Promise<Log<bigint, number, false, E, true>[]> {
  try {
    return (await client.getLogs({ address, event, args, fromBlock: from, toBlock: to, strict: true } as never)) as never;
  } catch (error) {
    if (to - from < 1000n) throw error;
    const mid = from + (to - from) / 2n;
    return [
      ...(await getLogs(client, address, event, args, from, mid)),
      ...(await getLogs(client, address, event, args, mid + 1n, to)),
    ];
  }
}

/** A "could not check" failure: the chain could not be asked (the verdict is neither yes nor no). */
export class CouldNotCheck extends Error {}

/** The endpoint's chain id, checked against `expected` when given; and that `contract` holds code. */
export async function checkContract(client: PublicClient, contract: Address, expected?: number): Promise<number> {
  let chainId: number;
  try {
    chainId = await client.getChainId();
  } catch (error) {
    throw new CouldNotCheck(`cannot reach the RPC endpoint: ${short(error)}`);
  }
  if (expected !== undefined && expected !== chainId) {
    throw new CouldNotCheck(`wrong chain: the RPC endpoint serves chain ${chainId}, expected ${expected}`);
  }
  const code = await client.getCode({ address: contract });
  if (!code || code === '0x') throw new CouldNotCheck(`no contract at ${contract} on chain ${chainId}`);
  return chainId;
}

/** The first line of an error's message. */
export function short(error: unknown): string {
  const text = error instanceof Error ? (error as { shortMessage?: string }).shortMessage ?? error.message : String(error);
  return text.split('\n')[0];
}
