// Verify: a model folder, an output receipt, a manifest, or a file with its proof, checked against the chain in
// this browser (files hashed here, in a worker; registry views called over JSON-RPC). The verdict never depends on
// the prova API: it reads the chain through the RPC endpoint shown, with the same checks and words as `prova verify`.
import { useEffect, useState } from 'preact/hooks';
import { getAddress, isAddress, toBytes, type Address as Addr, type Hex } from 'viem';
import { api, maybe } from '../api/client';
import type { FileEntry } from '../chain/merkle';
import { versionHash } from '../chain/merkle';
import { CouldNotCheck, rpcClient, short } from '../chain/rpc';
import {
  claimCount, claimLines, diffFiles, modelFailure, modelVerdictLine, parseFileProof, parseManifest, parseReceipt,
  receiptLines, verifyFileProof, verifyModelVersion, verifyReceipt, type ModelVerdict,
} from '../chain/verify';
import { fromDrop, fromInput, hashFiles, hashWorker, readBytes, type FolderFile } from '../files';
import { chainSettings, settings } from '../settings';
import { Section, Verdict, bytes } from '../ui';

type Result = { verified?: boolean; lines: string[]; rpc?: string };

export function VerifyPage() {
  // Start the hashing worker now: once the page is open, verifying needs nothing more from this server.
  useEffect(() => void hashWorker(), []);
  const chains = settings().chains;
  return (
    <>
      <h1>Verify</h1>
      <p class="lede">
        Everything here runs in your browser: files are hashed on this device (they are never uploaded) and the
        registry is read through the RPC endpoint{chains.length === 1 ? '' : 's'}{' '}
        {chains.map((c) => <code class="mono" key={c.chainId}>{c.rpcUrl ?? 'none set'}</code>)} (change it at the top of
        the page). The prova API is not asked for any verdict.
      </p>
      <ModelFolder />
      <ReceiptForm />
      <ManifestForm />
      <FileProofForm />
    </>
  );
}

/** The chain and registry a check uses: the first chain's unless chosen. */
function ChainFields({ prefix }: { prefix: string }) {
  const chains = settings().chains;
  const first = chains[0];
  return (
    <div class="fields">
      <label>
        Chain
        <select name="chain" data-testid={`${prefix}-chain`}>
          {chains.map((c) => <option key={c.chainId} value={c.chainId}>{c.chainId}</option>)}
        </select>
      </label>
      <label>
        Registry
        <input name="registry" class="mono" defaultValue={first?.registry ?? ''} spellcheck={false} data-testid={`${prefix}-registry`} />
      </label>
    </div>
  );
}

function chainOf(form: FormData): { rpc: string; registry: Addr; chainId: number } {
  const chainId = Number(form.get('chain'));
  const chain = chainSettings(Number.isFinite(chainId) ? chainId : undefined);
  if (!chain?.rpcUrl) throw new CouldNotCheck(`no RPC endpoint is set for chain ${chainId} (set one at the top of the page)`);
  const registry = String(form.get('registry') ?? '').trim();
  if (!isAddress(registry)) throw new CouldNotCheck(`${JSON.stringify(registry)} is not a registry address`);
  return { rpc: chain.rpcUrl, registry: getAddress(registry), chainId: chain.chainId };
}

function couldNot(error: unknown, rpc?: string): Result {
  return { verified: undefined, lines: [`COULD NOT CHECK: ${error instanceof CouldNotCheck ? error.message : short(error)}`], rpc };
}

/** A drop zone around a file input: dropped folders and files go to `onDrop`. */
function DropZone({ label, onDrop, children }: { label: string; onDrop: (items: DataTransferItemList) => void; children: preact.ComponentChildren }) {
  const [over, setOver] = useState(false);
  return (
    <div
      class={`drop${over ? ' over' : ''}`}
      onDragOver={(e) => (e.preventDefault(), setOver(true))}
      onDragLeave={() => setOver(false)}
      onDrop={(e) => {
        e.preventDefault();
        setOver(false);
        if (e.dataTransfer) onDrop(e.dataTransfer.items);
      }}
    >
      <p class="muted">{label}</p>
      {children}
    </div>
  );
}

function ModelFolder() {
  const [folder, setFolder] = useState<{ name: string; files: FolderFile[] }>();
  const [progress, setProgress] = useState<{ done: number; total: number; path: string }>();
  const [result, setResult] = useState<Result>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    if (!folder || folder.files.length === 0) {
      setResult({ verified: undefined, lines: ['Choose or drop a model folder first.'] });
      return;
    }
    setBusy(true);
    setResult(undefined);
    let rpc: string | undefined;
    try {
      const chain = chainOf(form);
      rpc = chain.rpc;
      const publisherText = String(form.get('publisher') ?? '').trim();
      if (publisherText && !isAddress(publisherText)) throw new CouldNotCheck(`${publisherText} is not an address`);
      const publisher = publisherText ? getAddress(publisherText) : undefined;
      const manifestFile = form.get('manifest') as File | null;
      const manifestText = manifestFile && manifestFile.size > 0 ? await manifestFile.text() : undefined;
      const entries = await hashFiles(folder.files, (done, total, path) => setProgress({ done, total, path }));
      const hash = versionHash(entries);
      const client = rpcClient(chain.rpc);
      const exact = await verifyModelVersion(client, chain.registry, hash, publisher, chain.chainId);
      const lines = [
        `folder        ${folder.name} (${entries.length} files)`,
        `version hash  ${hash}`,
        `registry      ${exact.registry} on chain ${exact.chainId}`,
        ...claimLines(exact),
        modelVerdictLine(exact).line.replace(
          /; (\d+ publishers? claims? it)$/,
          '; $1 (name a publisher to check one publisher\'s claim)',
        ),
      ];
      if (exact.claims.length === 0) {
        const candidates: { source: string; files: FileEntry[]; hash: Hex }[] = [];
        const notes: string[] = [];
        if (manifestText) {
          try {
            const m = parseManifest(manifestText);
            candidates.push({ source: manifestFile!.name, files: m.files, hash: m.versionHash });
          } catch (error) {
            notes.push(`${manifestFile!.name}: ${short(error)}`);
          }
        }
        if (form.get('ask-api')) {
          try {
            const answer = await maybe(api.POST('/v1/model-versions/match', { body: { files: entries } }));
            for (const c of (answer?.candidates ?? []).slice(0, 3)) {
              const m = await maybe(api.GET('/v1/model-versions/{version_hash}/manifest', { params: { path: { version_hash: c.version_hash } } }));
              if (m) candidates.push({ source: `this API (version ${c.version_hash})`, files: m.files as FileEntry[], hash: versionHash(m.files as FileEntry[]) });
            }
          } catch (error) {
            notes.push(`the API could not be asked for candidates: ${short(error)}`);
          }
        }
        let best: { source: string; verdict: ModelVerdict; diff: ReturnType<typeof diffFiles> } | undefined;
        for (const c of candidates) {
          const verdict = await verifyModelVersion(client, chain.registry, c.hash, publisher, chain.chainId);
          if (verdict.claims.length === 0) {
            notes.push(`${c.source}: version ${c.hash} is not registered on-chain; ignored`);
            continue;
          }
          const diff = diffFiles(entries, c.files);
          if (!best || diff.unchanged > best.diff.unchanged) best = { source: c.source, verdict, diff };
        }
        if (best) {
          lines.push('', `closest registered version ${best.verdict.versionHash} (from ${best.source})`, ...claimLines(best.verdict));
          const problem = modelFailure(best.verdict);
          if (problem) lines.push(`  note: ${problem}`);
          lines.push(`  files identical  ${best.diff.unchanged}`);
          for (const [label, paths] of [['changed', best.diff.changed], ['added', best.diff.added], ['removed', best.diff.removed]] as const) {
            for (const p of paths) lines.push(`  ${label.padEnd(8)} ${p}`);
          }
        } else if (!manifestText && !form.get('ask-api')) {
          lines.push('(add a manifest, or let this page ask the API, to find the closest registered version)');
        }
        for (const note of notes) lines.push(`note: ${note}`);
      }
      setResult({ verified: !modelFailure(exact), lines, rpc });
    } catch (error) {
      setResult(couldNot(error, rpc));
    } finally {
      setBusy(false);
    }
  };
  const total = folder?.files.reduce((n, f) => n + f.file.size, 0) ?? 0;
  return (
    <Section title="A model folder" id="model-folder">
      <form class="stack" onSubmit={submit}>
        <DropZone label="Drop a model folder here, or choose it:" onDrop={async (items) => setFolder(await fromDrop(items))}>
          <input
            type="file"
            data-testid="folder-input"
            aria-label="Model folder"
            {...({ webkitdirectory: true, directory: true } as object)}
            multiple
            onChange={(e) => {
              const list = (e.currentTarget as HTMLInputElement).files;
              if (list) setFolder(fromInput(list));
            }}
          />
        </DropZone>
        {folder && <p data-testid="folder-summary">{folder.name}: {folder.files.length} files, {bytes(total)} (ignoring {'.git'} and other version-control folders)</p>}
        <ChainFields prefix="model" />
        <label>Publisher to check (optional: without one, the folder verifies when any claim stands)<input name="publisher" class="mono" spellcheck={false} /></label>
        <label>A manifest to compare with when the folder is not registered (optional)<input name="manifest" type="file" accept=".json,application/json" data-testid="compare-manifest" /></label>
        <label class="check-label"><input type="checkbox" name="ask-api" /> If it is not registered, ask this API for the closest registered versions (each re-checked on chain)</label>
        <button type="submit" disabled={busy} data-testid="verify-folder">{busy ? 'Verifying…' : 'Verify the folder'}</button>
        {progress && busy && (
          <p>
            <label>
              Hashing {progress.path || 'done'} — {bytes(progress.done)} of {bytes(progress.total)}
              <progress max={progress.total || 1} value={progress.done} />
            </label>
          </p>
        )}
        {result && <Verdict verified={result.verified} lines={result.lines} rpc={result.rpc} testid="folder-verdict" />}
      </form>
    </Section>
  );
}

function ReceiptForm() {
  const [result, setResult] = useState<Result>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const textOf = async (name: string) => {
      const file = form.get(`${name}-file`) as File | null;
      if (file && file.size > 0) return readBytes(file);
      const text = String(form.get(name) ?? '');
      return text ? toBytes(text) : undefined;
    };
    setBusy(true);
    setResult(undefined);
    let rpc: string | undefined;
    try {
      const receiptBytes = await textOf('receipt');
      if (!receiptBytes) throw new CouldNotCheck('give the receipt (file or pasted JSON)');
      let receipt;
      try {
        receipt = parseReceipt(new TextDecoder().decode(receiptBytes));
      } catch (error) {
        setResult({ verified: false, lines: [`NOT VERIFIED: ${short(error)}`] });
        return;
      }
      const chain = chainSettings(receipt.chain_id);
      if (!chain?.rpcUrl) throw new CouldNotCheck(`no RPC endpoint is set for chain ${receipt.chain_id}, the receipt's chain (set one at the top of the page)`);
      rpc = chain.rpcUrl;
      const request = await textOf('request');
      const response = await textOf('response');
      const verdict = await verifyReceipt(rpcClient(rpc), receipt, request, response);
      setResult({ verified: verdict.ok, lines: receiptLines(receipt, verdict, { request: !!request, response: !!response }), rpc });
    } catch (error) {
      setResult(couldNot(error, rpc));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="An output receipt" id="receipt">
      <form class="stack" onSubmit={submit}>
        <p class="muted">Does this receipt prove that a model version produced this response to this request? The receipt names its chain and registry.</p>
        <label>Receipt file<input name="receipt-file" type="file" accept=".json,application/json" data-testid="receipt-file" /></label>
        <label>or paste the receipt JSON<textarea name="receipt" rows={4} class="mono" spellcheck={false} /></label>
        <label>Request file (exact bytes)<input name="request-file" type="file" data-testid="request-file" /></label>
        <label>or the request text<textarea name="request" rows={2} /></label>
        <label>Response file (exact bytes)<input name="response-file" type="file" data-testid="response-file" /></label>
        <label>or the response text<textarea name="response" rows={2} /></label>
        <button type="submit" disabled={busy} data-testid="verify-receipt">{busy ? 'Verifying…' : 'Verify the receipt'}</button>
        {result && <Verdict verified={result.verified} lines={result.lines} rpc={result.rpc} testid="receipt-verdict" />}
      </form>
    </Section>
  );
}

function ManifestForm() {
  const [result, setResult] = useState<Result>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setResult(undefined);
    let rpc: string | undefined;
    try {
      const file = form.get('manifest-file') as File | null;
      const text = file && file.size > 0 ? await file.text() : String(form.get('manifest') ?? '');
      if (!text.trim()) throw new CouldNotCheck('give a manifest (file or pasted JSON)');
      let manifest;
      try {
        manifest = parseManifest(text);
      } catch (error) {
        setResult({ verified: false, lines: [`NOT VERIFIED: ${short(error)}`] });
        return;
      }
      const chain = chainOf(form);
      rpc = chain.rpc;
      const v = await verifyModelVersion(rpcClient(rpc), chain.registry, manifest.versionHash, undefined, chain.chainId);
      const failure = modelFailure(v);
      const total = manifest.files.reduce((n, f) => n + f.size, 0);
      setResult({
        verified: !failure,
        rpc,
        lines: [
          `manifest      ${manifest.files.length} files, ${total} bytes; its files hash to its version hash`,
          `version hash  ${manifest.versionHash}`,
          `registry      ${v.registry} on chain ${v.chainId}`,
          ...claimLines(v),
          failure ? `NOT VERIFIED: ${failure}` : `VERIFIED: this manifest is a registered version; ${claimCount(v.claims.length)}`,
        ],
      });
    } catch (error) {
      setResult(couldNot(error, rpc));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Section title="A manifest" id="manifest">
      <form class="stack" onSubmit={submit}>
        <p class="muted">A prova manifest (from <code>prova model hash --out</code> or a version page): its root is recomputed here and looked up on chain.</p>
        <label>Manifest file<input name="manifest-file" type="file" accept=".json,application/json" data-testid="manifest-file" /></label>
        <label>or paste it<textarea name="manifest" rows={3} class="mono" spellcheck={false} /></label>
        <ChainFields prefix="manifest" />
        <button type="submit" disabled={busy} data-testid="verify-manifest">{busy ? 'Verifying…' : 'Verify the manifest'}</button>
        {result && <Verdict verified={result.verified} lines={result.lines} rpc={result.rpc} testid="manifest-verdict" />}
      </form>
    </Section>
  );
}

function FileProofForm() {
  const [result, setResult] = useState<Result>();
  const [busy, setBusy] = useState(false);
  const [progress, setProgress] = useState<string>();
  const submit = async (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    setBusy(true);
    setResult(undefined);
    let rpc: string | undefined;
    try {
      const proofFile = form.get('proof-file') as File | null;
      const text = proofFile && proofFile.size > 0 ? await proofFile.text() : String(form.get('proof') ?? '');
      if (!text.trim()) throw new CouldNotCheck('give a file proof (from `prova model prove-file` or a version page)');
      let proof;
      try {
        proof = parseFileProof(text);
      } catch (error) {
        setResult({ verified: false, lines: [`NOT VERIFIED: ${short(error)}`] });
        return;
      }
      const chain = chainOf(form);
      rpc = chain.rpc;
      const file = form.get('file') as File | null;
      let digest: { size: number; sha256: Hex } | undefined;
      if (file && file.size >= 0 && file.name) {
        const [entry] = await hashFiles([{ path: file.name, file }], (done, total) => setProgress(`${bytes(done)} of ${bytes(total)}`));
        digest = { size: entry.size, sha256: entry.sha256 };
      }
      const verdict = await verifyFileProof(rpcClient(rpc), chain.registry, proof, digest);
      setResult({ ...verdict, rpc });
    } catch (error) {
      setResult(couldNot(error, rpc));
    } finally {
      setBusy(false);
      setProgress(undefined);
    }
  };
  return (
    <Section title="A file and its proof" id="file-proof">
      <form class="stack" onSubmit={submit}>
        <p class="muted">Is this one file part of a registered version? Give its proof (from <code>prova model prove-file</code> or a version page's “Prove”) and, to check the bytes too, the file.</p>
        <label>Proof file<input name="proof-file" type="file" accept=".json,application/json" data-testid="proof-file" /></label>
        <label>or paste the proof<textarea name="proof" rows={3} class="mono" spellcheck={false} /></label>
        <label>The file itself (optional; hashed here)<input name="file" type="file" data-testid="proved-file" /></label>
        <ChainFields prefix="proof" />
        <button type="submit" disabled={busy} data-testid="verify-proof">{busy ? `Verifying… ${progress ?? ''}` : 'Verify the file'}</button>
        {result && <Verdict verified={result.verified} lines={result.lines} rpc={result.rpc} testid="proof-verdict" />}
      </form>
    </Section>
  );
}
