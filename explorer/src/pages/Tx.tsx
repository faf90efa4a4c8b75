// A transaction, read from the chain: each log of an indexed contract, decoded, with a link to its page.
import type { Hex } from 'viem';
import { describeTransaction } from '../search';
import { chainSettings } from '../settings';
import { A, Address, KV, Loaded, Mono, useLoad } from '../ui';

export function TxPage({ hash, chainId }: { hash: string; chainId?: number }) {
  const chain = chainSettings(chainId);
  const tx = useLoad(async () => {
    if (!chain) throw new Error('no chain is configured');
    return describeTransaction(chain, hash as Hex);
  }, [hash, chainId]);
  return (
    <>
      <h1>Transaction</h1>
      <p class="hash-title"><Mono value={hash} /></p>
      <p class="muted">Read from chain {chain?.chainId} through {chain?.rpcUrl ?? 'no RPC endpoint'}.</p>
      <Loaded load={tx} what="the transaction">
        {({ receipt, rows }) => (
          <>
            <KV rows={[
              ['status', receipt.status],
              ['block', String(receipt.blockNumber)],
              ['from', <Address value={receipt.from} chainId={chain?.chainId} />],
              ['to', receipt.to ? <Address value={receipt.to} chainId={chain?.chainId} /> : 'contract creation'],
            ]} />
            <table class="table" data-testid="tx-logs">
              <thead><tr><th scope="col">log</th><th scope="col">contract</th><th scope="col">event</th><th scope="col">page</th></tr></thead>
              <tbody>
                {rows.map((r) => (
                  <tr key={r.logIndex}>
                    <td>{r.logIndex}</td>
                    <td><Mono value={r.address} /></td>
                    <td>{r.event}</td>
                    <td>{r.to ? <A to={r.to}>open</A> : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </Loaded>
    </>
  );
}
