// Shared pieces of every page: loading states, hashes and addresses with their links, chain pointers with a
// finality badge, verdicts.
import type { ComponentChildren } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { BASE } from './router';
import { chainSettings } from './settings';
import type { ChainPointer } from './api/client';

/** Something loading, loaded or failed. */
export type Load<T> = { state: 'loading' } | { state: 'ok'; data: T } | { state: 'error'; error: Error };

/** Runs `load` when `deps` change. */
export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Load<T> {
  const [value, set] = useState<Load<T>>({ state: 'loading' });
  useEffect(() => {
    let live = true;
    set({ state: 'loading' });
    load().then(
      (data) => live && set({ state: 'ok', data }),
      (error) => live && set({ state: 'error', error: error instanceof Error ? error : new Error(String(error)) }),
    );
    return () => {
      live = false;
    };
  }, deps);
  return value;
}

/** Renders a load: a spinner line, the error, or `children(data)`. */
export function Loaded<T>({ load, what, children }: { load: Load<T>; what: string; children: (data: T) => ComponentChildren }) {
  if (load.state === 'loading') return <p class="muted" role="status">Loading {what}…</p>;
  if (load.state === 'error') return <p class="error" role="alert">Could not load {what}: {load.error.message}</p>;
  return <>{children(load.data)}</>;
}

/** An internal link. */
export function A({ to, children, class: cls }: { to: string; children: ComponentChildren; class?: string }) {
  return <a href={BASE + to} class={cls}>{children}</a>;
}

/** A hash or address in full (they are what gets quoted), monospace, wrapping on narrow screens. */
export function Mono({ value, to }: { value: string; to?: string }) {
  const text = <code class="mono">{value}</code>;
  return to ? <A to={to}>{text}</A> : text;
}

/** An address, linked to its page here and to the block explorer when one is configured. */
export function Address({ value, chainId, to }: { value: string; chainId?: number; to?: string }) {
  const explorer = chainSettings(chainId)?.blockExplorer;
  return (
    <span class="addr">
      <Mono value={value} to={to ?? `/address/${value}`} />
      {explorer && (
        <a class="ext" href={`${explorer}/address/${value}`} rel="noopener noreferrer" target="_blank" aria-label="on the block explorer">↗</a>
      )}
    </span>
  );
}

/** A transaction hash, linked to the block explorer when one is configured, else to its page here. */
export function Tx({ hash, chainId }: { hash: string; chainId?: number }) {
  const explorer = chainSettings(chainId)?.blockExplorer;
  if (explorer) {
    return <a href={`${explorer}/tx/${hash}`} rel="noopener noreferrer" target="_blank"><code class="mono">{hash}</code></a>;
  }
  return <Mono value={hash} to={`/tx/${hash}`} />;
}

/** The finality badge: pending, confirmed N, finalized. */
export function Finality({ p }: { p: ChainPointer }) {
  const label = p.finality === 'confirmed' ? `confirmed ${p.confirmations}` : p.finality;
  return <span class={`badge finality ${p.finality}`} title="how final this fact is on its chain">{label}</span>;
}

/** Where a fact is on its chain: block, transaction, log, time, and how final. */
export function Pointer({ p, label = 'on chain' }: { p: ChainPointer; label?: string }) {
  return (
    <div class="pointer">
      <span class="muted">{label}</span> <Finality p={p} /> chain {p.chain_id} · block {p.block_number} · log {p.log_index} ·{' '}
      <time dateTime={p.block_time}>{when(p.block_time)}</time>
      <br />
      <span class="muted">tx</span> <Tx hash={p.tx_hash} chainId={p.chain_id} />
    </div>
  );
}

/** An ISO time, shown as `YYYY-MM-DD HH:MM:SS UTC`. */
export function when(iso: string | number): string {
  const date = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}

/** A titled section. */
export function Section({ title, id, children }: { title: string; id?: string; children: ComponentChildren }) {
  const hid = id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-');
  return (
    <section aria-labelledby={hid}>
      <h2 id={hid}>{title}</h2>
      {children}
    </section>
  );
}

/** Key-value rows. */
export function KV({ rows }: { rows: [string, ComponentChildren][] }) {
  return (
    <dl class="kv">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  );
}

/** A status badge. */
export function Badge({ kind, children }: { kind: 'ok' | 'bad' | 'warn' | 'info'; children: ComponentChildren }) {
  return <span class={`badge ${kind}`}>{children}</span>;
}

/** A verdict: the lines `prova verify` prints, the verdict line marked, and the RPC endpoint used. */
export function Verdict({ verified, lines, rpc, testid }: { verified: boolean | undefined; lines: string[]; rpc?: string; testid?: string }) {
  return (
    <div class={`verdict ${verified === undefined ? 'unknown' : verified ? 'yes' : 'no'}`} role="status" aria-live="polite" data-testid={testid}>
      <pre>
        {lines.map((l) => (
          <span key={l} class={/^(NOT )?VERIFIED|^COULD NOT CHECK/.test(l) ? 'line verdict-line' : 'line'}>{l + '\n'}</span>
        ))}
      </pre>
      {rpc && <p class="muted rpc-used">Checked in this browser against <code class="mono">{rpc}</code>: the verdict rests on the chain alone, not on the prova API.</p>}
    </div>
  );
}

/** Reads a number of bytes as `1.0 MiB`. */
export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}
