// The explorer's entry: loads the settings, then renders the page of the current path.
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import './style.css';
import { interceptLinks, useLocation, navigate } from './router';
import { chooseRpc, loadSettings, onSettingsChange, settings } from './settings';
import { A } from './ui';
import { Home, SearchBox, SearchPage } from './pages/Home';
import { ModelPage, FilePage } from './pages/Model';
import { PublisherPage, AddressPage } from './pages/Publisher';
import { BatchPage, OutputPage } from './pages/Outputs';
import { TxPage } from './pages/Tx';
import { AgentPage } from './pages/Agent';
import { LeaderboardPage } from './pages/Leaderboard';
import { VerifyPage } from './pages/Verify';

const HASH = '(0x[0-9a-fA-F]{64})';
const ADDRESS = '(0x[0-9a-fA-F]{40})';

/** The pages, by path. */
const ROUTES: [RegExp, (m: string[], q: URLSearchParams) => preact.JSX.Element, string][] = [
  [/^\/$/, () => <Home />, 'Home'],
  [/^\/search\/(.+)$/, (m) => <SearchPage query={decodeURIComponent(m[1])} />, 'Search'],
  [new RegExp(`^/model/${HASH}$`), (m, q) => <ModelPage hash={m[1].toLowerCase()} file={q.get('file') ?? undefined} />, 'Model version'],
  [new RegExp(`^/file/${HASH}$`), (m) => <FilePage sha256={m[1].toLowerCase()} />, 'File'],
  [new RegExp(`^/publisher/${ADDRESS}$`), (m) => <PublisherPage address={m[1]} />, 'Publisher'],
  [new RegExp(`^/address/${ADDRESS}$`), (m) => <AddressPage address={m[1]} />, 'Address'],
  [new RegExp(`^/batch/${HASH}$`), (m) => <BatchPage root={m[1].toLowerCase()} />, 'Output batch'],
  [new RegExp(`^/output/${HASH}$`), (m) => <OutputPage hash={m[1].toLowerCase()} />, 'Output'],
  [new RegExp(`^/tx/${HASH}$`), (m, q) => <TxPage hash={m[1].toLowerCase()} chainId={q.get('chain') ? Number(q.get('chain')) : undefined} />, 'Transaction'],
  [/^\/agent\/(\d+)\/(\d+)$/, (m) => <AgentPage chainId={Number(m[1])} agentId={m[2]} />, 'Agent'],
  [/^\/leaderboard$/, () => <LeaderboardPage />, 'Leaderboard'],
  [/^\/verify$/, () => <VerifyPage />, 'Verify'],
];

function App() {
  const { path, query } = useLocation();
  const [, rerender] = useState(0);
  useEffect(() => onSettingsChange(() => rerender((n) => n + 1)), []);
  let page = <NotFound />;
  let title = 'Not found';
  for (const [re, view, name] of ROUTES) {
    const m = re.exec(path);
    if (m) {
      page = view(m, query);
      title = name;
      break;
    }
  }
  useEffect(() => {
    document.title = `${title} · prova explorer`;
    // Move focus to the new page's heading for keyboard and screen-reader users (not on first load).
    const h1 = document.querySelector('main h1') as HTMLElement | null;
    if (h1 && document.activeElement && document.activeElement !== document.body) {
      h1.tabIndex = -1;
      h1.focus({ preventScroll: true });
    }
  }, [path]);
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header class="top">
        <div class="bar">
          <A to="/" class="brand">prova <span>explorer</span></A>
          <nav aria-label="main">
            <A to="/">Home</A>
            <A to="/leaderboard">Leaderboard</A>
            <A to="/verify">Verify</A>
          </nav>
          {path !== '/' && <SearchBox compact />}
        </div>
        <RpcBar />
      </header>
      <main id="main" key={path}>{page}</main>
      <footer class="foot">
        <p>
          Facts come from the prova API, each with its chain pointers. Verdicts marked “checked in this browser” come
          from the chain alone, through the RPC endpoint above. <a href="/openapi.json">API document</a>
        </p>
      </footer>
    </>
  );
}

/** The RPC endpoint of each chain, which the visitor can change. */
function RpcBar() {
  const [open, setOpen] = useState(false);
  const chains = settings().chains;
  if (chains.length === 0) return null;
  return (
    <div class="rpcbar">
      <span>
        Checks run in your browser against{' '}
        {chains.map((c, i) => (
          <span key={c.chainId}>
            {i > 0 && ', '}
            <code class="mono" data-testid={`rpc-${c.chainId}`}>{c.rpcUrl ?? 'no RPC set'}</code> (chain {c.chainId}
            {c.rpcChosen ? ', your choice' : ''})
          </span>
        ))}
      </span>{' '}
      <button type="button" class="link" aria-expanded={open} onClick={() => setOpen(!open)}>Change</button>
      {open && (
        <form
          class="rpcform"
          onSubmit={(e) => {
            e.preventDefault();
            const data = new FormData(e.currentTarget);
            for (const c of chains) chooseRpc(c.chainId, String(data.get(`rpc-${c.chainId}`) ?? ''));
            setOpen(false);
          }}
        >
          {chains.map((c) => (
            <label key={c.chainId}>
              RPC endpoint for chain {c.chainId} (your node, a public endpoint; empty: the server's suggestion
              {c.defaultRpcUrl ? ` ${c.defaultRpcUrl}` : ''})
              <input name={`rpc-${c.chainId}`} type="url" defaultValue={c.rpcChosen ? c.rpcUrl : ''} placeholder={c.defaultRpcUrl ?? 'https://…'} />
            </label>
          ))}
          <button type="submit">Use</button>
        </form>
      )}
    </div>
  );
}

function NotFound() {
  return (
    <>
      <h1>No such page</h1>
      <p>
        This explorer has no page at this address. <a href="/explorer/" onClick={(e) => (e.preventDefault(), navigate('/'))}>Start from the search box</a>.
      </p>
    </>
  );
}

interceptLinks();
loadSettings()
  .catch(() => undefined)
  .finally(() => render(<App />, document.getElementById('app')!));
