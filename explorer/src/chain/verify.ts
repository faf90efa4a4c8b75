// The verdicts of `prova verify`, computed in the browser against the chain alone (no API): the same checks, in
// the same order, with the same wording as `verify/src/model.rs`, `verify/src/outputs.rs`,
// `core/src/outputs.rs` and `cli/src/commands/verify.rs`.
import { getAddress, keccak256, type Address, type Hex } from 'viem';
import { registryAbi } from './abi';
import { fileLeaf, outputLeaf, processProof, versionHash, type FileEntry, type OutputLeaf } from './merkle';
import { checkContract, getLogs, type PublicClient } from './rpc';

/** `prova_core::time::iso8601`: UTC, seconds, `Z`. */
export function iso8601(unix: number | bigint): string {
  return new Date(Number(unix) * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** One publisher's claim of a version hash, as read from the contract. */
export interface Registration {
  publisher: Address;
  publisherName: string;
  attestor: Address;
  modelId: Hex;
  /** The name from the claim's event, only when its keccak256 is `modelId` (see `model_name` in verify/src/model.rs). */
  modelName?: string;
  parent: Hex;
  metadataUri: string;
  registeredAt: number;
  registeredBlock: number;
  committedAt: number;
  committedBlock: number;
  revokedAt: number;
  signedByCompromisedKey: boolean;
}

/** What the registry says about a version hash. */
export interface ModelVerdict {
  chainId: number;
  registry: Address;
  versionHash: Hex;
  askedPublisher?: Address;
  claims: Registration[];
}

const ZERO_HASH = `0x${'0'.repeat(64)}` as Hex;

export function priorityBlock(r: Registration): number {
  return r.committedBlock !== 0 ? r.committedBlock : r.registeredBlock;
}

/** Why a claim does not stand, or undefined. */
export function claimProblem(r: Registration): string | undefined {
  if (r.revokedAt !== 0) return `${r.publisher}'s claim was revoked by that publisher at ${iso8601(r.revokedAt)}`;
  if (r.signedByCompromisedKey) {
    return `${r.publisher}'s claim was signed by attestor key ${r.attestor} after the key was compromised`;
  }
  return undefined;
}

/** Why the version is not verified, or undefined if it is (`ModelVerdict::failure`). */
export function modelFailure(v: ModelVerdict): string | undefined {
  const where = `${v.versionHash} in registry ${v.registry} on chain ${v.chainId}`;
  if (v.askedPublisher) {
    const claim = v.claims.find((c) => c.publisher === v.askedPublisher);
    if (!claim) {
      const others = v.claims.length ? ` (${v.claims.length} other claims)` : '';
      return `publisher ${v.askedPublisher} has not claimed version ${where}${others}`;
    }
    return claimProblem(claim);
  }
  if (v.claims.length === 0) return `version ${v.versionHash} is not registered in registry ${v.registry} on chain ${v.chainId}`;
  if (v.claims.some((c) => !claimProblem(c))) return undefined;
  return `no claim of version ${v.versionHash} stands: ${v.claims.map(claimProblem).join('; ')}`;
}

/** "1 publisher claims it" / "3 publishers claim it". */
export function claimCount(n: number): string {
  return n === 1 ? '1 publisher claims it' : `${n} publishers claim it`;
}

/** Every claim of `hash` in `registry`: publishers from the registration logs, each claim read from state, in
 * priority order (`verify_model_version`). */
export async function verifyModelVersion(
  client: PublicClient,
  registry: Address,
  hash: Hex,
  publisher?: Address,
  expectedChain?: number,
): Promise<ModelVerdict> {
  const chainId = await checkContract(client, registry, expectedChain);
  const head = await client.getBlockNumber();
  const event = registryAbi.find((e) => e.type === 'event' && e.name === 'ModelVersionRegistered')!;
  const logs = await getLogs(client, registry, event as never, { versionHash: hash }, 0n, head);
  const publishers: Address[] = [];
  for (const log of logs) {
    const p = getAddress((log as unknown as { args: { publisher: Address } }).args.publisher);
    if (!publishers.includes(p)) publishers.push(p);
  }
  // The asked publisher's state is read even without a log (a node that drops logs cannot hide a claim).
  if (publisher && !publishers.includes(publisher)) publishers.push(publisher);
  const claims: Registration[] = [];
  for (const p of publishers) {
    const claim = await readClaim(client, registry, p, hash);
    if (claim) claims.push(claim);
  }
  claims.sort((a, b) => priorityBlock(a) - priorityBlock(b) || a.registeredBlock - b.registeredBlock);
  return { chainId, registry, versionHash: hash, askedPublisher: publisher, claims };
}

async function readClaim(client: PublicClient, registry: Address, publisher: Address, hash: Hex) {
  const read = <T,>(functionName: string, args: readonly unknown[]) =>
    client.readContract({ address: registry, abi: registryAbi, functionName, args } as never) as Promise<T>;
  const v = await read<{
    modelId: Hex; parent: Hex; attestor: Address; metadataURI: string; registeredAt: bigint; registeredBlock: bigint;
    revokedAt: bigint; committedAt: bigint; committedBlock: bigint;
  }>('getModelVersion', [publisher, hash]);
  if (v.registeredAt === 0n) return undefined;
  const record = await read<{ name: string }>('getPublisher', [publisher]);
  const compromised = await read<boolean>('isSignedByCompromisedKey', [publisher, hash]);
  const modelName = await readModelName(client, registry, publisher, hash, v.modelId, v.registeredBlock);
  return {
    publisher,
    publisherName: record.name,
    attestor: getAddress(v.attestor),
    modelId: v.modelId,
    modelName,
    parent: v.parent,
    metadataUri: v.metadataURI,
    registeredAt: Number(v.registeredAt),
    registeredBlock: Number(v.registeredBlock),
    committedAt: Number(v.committedAt),
    committedBlock: Number(v.committedBlock),
    revokedAt: Number(v.revokedAt),
    signedByCompromisedKey: compromised,
  } satisfies Registration;
}

/** The model name `publisher` gave with its claim, from the log in the claim's registration block; believed only if
 *  its keccak256 is the `modelId` in the contract's state, so a lying node cannot put another name on the claim. */
async function readModelName(
  client: PublicClient, registry: Address, publisher: Address, hash: Hex, modelId: Hex, block: bigint,
): Promise<string | undefined> {
  const event = registryAbi.find((e) => e.type === 'event' && e.name === 'ModelVersionRegistered')!;
  const logs = await getLogs(client, registry, event as never, { versionHash: hash, publisher }, block, block);
  return logs
    .map((log) => (log as unknown as { args: { modelName: string } }).args.modelName)
    .find((name) => name !== '' && keccak256(new TextEncoder().encode(name)) === modelId);
}

/** The verdict line of `prova verify model`. */
export function modelVerdictLine(v: ModelVerdict, subject = 'this folder'): { verified: boolean; line: string } {
  const failure = modelFailure(v);
  if (failure) return { verified: false, line: `NOT VERIFIED: ${failure}` };
  if (v.askedPublisher) {
    const reg = v.claims.find((c) => c.publisher === v.askedPublisher)!;
    return { verified: true, line: `VERIFIED: ${subject} is the version ${reg.publisherName} (${reg.publisher}) claims` };
  }
  return { verified: true, line: `VERIFIED: ${subject} is a registered version; ${claimCount(v.claims.length)}` };
}

/** The lines `prova verify model` prints for each claim. */
export function claimLines(v: ModelVerdict): string[] {
  const out: string[] = [];
  if (v.claims.length > 1) {
    out.push(`claims        ${claimCount(v.claims.length)}, in priority order (who committed first; priority does not prove authorship)`);
  }
  v.claims.forEach((reg, i) => {
    const label = v.claims.length > 1 ? `claim ${i + 1}` : 'claim';
    const asked = v.askedPublisher === reg.publisher ? '  <- the publisher asked about' : '';
    out.push(`${label.padEnd(13)} ${reg.publisher}${asked}`);
    out.push(`  publisher   ${reg.publisherName} (${reg.publisher}, its own name: names are not unique)`);
    out.push(`  attestor    ${reg.attestor}`);
    out.push(reg.modelName
      ? `  model       ${reg.modelName} (id ${reg.modelId}, its keccak256)`
      : `  model id    ${reg.modelId} (the publisher published no name)`);
    out.push(`  registered  block ${reg.registeredBlock} at ${iso8601(reg.registeredAt)}`);
    if (reg.committedBlock !== 0) out.push(`  committed   block ${reg.committedBlock} at ${iso8601(reg.committedAt)} (its priority)`);
    if (reg.parent !== ZERO_HASH) out.push(`  parent      ${reg.parent} (this publisher's claim of lineage)`);
    const problem = claimProblem(reg);
    if (problem) out.push(`  problem     ${problem}`);
  });
  return out;
}

/** How a folder differs from a manifest, by path (`prova_core::manifest::diff_digests`). */
export interface ManifestDiff {
  unchanged: number;
  added: string[];
  removed: string[];
  changed: string[];
}

export function diffFiles(folder: readonly FileEntry[], manifest: readonly FileEntry[]): ManifestDiff {
  const theirs = new Map(manifest.map((e) => [e.path, e.sha256.toLowerCase()]));
  const ours = new Map(folder.map((e) => [e.path, e.sha256.toLowerCase()]));
  const d: ManifestDiff = { unchanged: 0, added: [], removed: [], changed: [] };
  for (const [path, digest] of ours) {
    const other = theirs.get(path);
    if (other === undefined) d.added.push(path);
    else if (other === digest) d.unchanged++;
    else d.changed.push(path);
  }
  for (const path of theirs.keys()) if (!ours.has(path)) d.removed.push(path);
  return d;
}

/** A prova manifest, checked: its recorded version hash is the root of its files (`Manifest::from_json`). */
export function parseManifest(text: string): { versionHash: Hex; files: FileEntry[] } {
  let parsed: { format?: string; version_hash?: Hex; files?: FileEntry[] };
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('not JSON');
  }
  if (parsed.format !== 'prova.manifest/v1' || !Array.isArray(parsed.files) || !parsed.version_hash) {
    throw new Error(`not a prova manifest (format ${JSON.stringify(parsed.format ?? null)})`);
  }
  const computed = versionHash(parsed.files);
  if (computed.toLowerCase() !== parsed.version_hash.toLowerCase()) {
    throw new Error(`the manifest records version hash ${parsed.version_hash} but its files hash to ${computed}`);
  }
  return { versionHash: computed, files: parsed.files };
}

// ------------------------------------------------------------------------------------------------------------
// Output receipts
// ------------------------------------------------------------------------------------------------------------

/** A receipt (`prova_core::outputs::Receipt`). */
export interface Receipt {
  format: string;
  chain_id: number;
  registry: Address;
  root: Hex;
  leaf: OutputLeaf;
  proof: Hex[];
  tx_hash: Hex;
  block_number: number;
}

/** What the chain says about a receipt that verifies. */
export interface OutputVerdict {
  publisher: Address;
  publisherName: string;
  attestor: Address;
  anchoredAt: number;
  anchoredBlock: number;
  windowStart: number;
  windowEnd: number;
  leafCount: number;
}

/** Reads a receipt, or says why it is not one. */
export function parseReceipt(text: string): Receipt {
  let r: Receipt;
  try {
    r = JSON.parse(text);
  } catch {
    throw new Error('the receipt is not JSON');
  }
  const hex32 = (v: unknown) => typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v);
  const ok =
    r && typeof r === 'object' && typeof r.chain_id === 'number' && /^0x[0-9a-fA-F]{40}$/.test(String(r.registry)) &&
    hex32(r.root) && r.leaf && hex32(r.leaf.version_hash) && hex32(r.leaf.request_hash) &&
    hex32(r.leaf.response_hash) && hex32(r.leaf.salt) && typeof r.leaf.timestamp === 'number' &&
    Array.isArray(r.proof) && r.proof.every(hex32);
  if (!ok) throw new Error('not a prova output receipt (a field is missing or malformed)');
  return { ...r, registry: getAddress(r.registry) };
}

/** The offline checks of a receipt (`Receipt::check_offline`): format, the request and response bytes, the proof. */
export function checkReceiptOffline(r: Receipt, request?: Uint8Array, response?: Uint8Array): string | undefined {
  if (r.format !== 'prova.output-receipt/v1') return `not a prova output receipt (format ${JSON.stringify(r.format)})`;
  if (request) {
    const actual = keccak256(request);
    if (actual !== r.leaf.request_hash.toLowerCase()) {
      return `the request does not match the receipt: keccak256 is ${actual}, the receipt says ${r.leaf.request_hash}`;
    }
  }
  if (response) {
    const actual = keccak256(response);
    if (actual !== r.leaf.response_hash.toLowerCase()) {
      return `the response does not match the receipt: keccak256 is ${actual}, the receipt says ${r.leaf.response_hash}`;
    }
  }
  if (processProof(outputLeaf(r.leaf), r.proof) !== r.root.toLowerCase()) {
    return `the Merkle proof does not link this leaf to root ${r.root}`;
  }
  return undefined;
}

/** Verifies a receipt against the chain alone (`verify_receipt`): a verdict, or the reason it does not verify. */
export async function verifyReceipt(
  client: PublicClient,
  r: Receipt,
  request?: Uint8Array,
  response?: Uint8Array,
): Promise<{ ok: true; verdict: OutputVerdict } | { ok: false; reason: string }> {
  const offline = checkReceiptOffline(r, request, response);
  if (offline) return { ok: false, reason: offline };
  const chainId = await checkContract(client, r.registry);
  if (chainId !== r.chain_id) {
    return { ok: false, reason: `the RPC endpoint serves chain ${chainId}, the receipt is for chain ${r.chain_id}` };
  }
  const read = <T,>(functionName: string, args: readonly unknown[]) =>
    client.readContract({ address: r.registry, abi: registryAbi, functionName, args } as never) as Promise<T>;
  const batch = await read<{
    versionHash: Hex; attestor: Address; leafCount: bigint; windowStart: bigint; windowEnd: bigint; anchoredAt: bigint;
    anchoredBlock: bigint; revokedAt: bigint;
  }>('getOutputBatch', [r.root]);
  const leaf = r.leaf;
  if (batch.anchoredAt === 0n) return { ok: false, reason: `root ${r.root} is not anchored in the registry` };
  if (batch.versionHash.toLowerCase() !== leaf.version_hash.toLowerCase()) {
    return { ok: false, reason: `root ${r.root} was anchored for version ${batch.versionHash}, the receipt claims ${leaf.version_hash}` };
  }
  if (batch.revokedAt !== 0n) return { ok: false, reason: `batch ${r.root} was revoked by its publisher` };
  const t = BigInt(leaf.timestamp);
  if (t < batch.windowStart || t > batch.windowEnd) {
    return {
      ok: false,
      reason: `the leaf's timestamp ${iso8601(t)} lies outside its batch's window ${iso8601(batch.windowStart)} to ${iso8601(batch.windowEnd)}`,
    };
  }
  const key = await read<{ publisher: Address; compromisedSince: bigint }>('getAttestorKey', [batch.attestor]);
  if (key.compromisedSince !== 0n && batch.anchoredAt >= key.compromisedSince) {
    return { ok: false, reason: `the batch was anchored by attestor key ${getAddress(batch.attestor)} after it was compromised` };
  }
  const version = await read<{ revokedAt: bigint }>('getModelVersion', [key.publisher, batch.versionHash]);
  if (version.revokedAt !== 0n) return { ok: false, reason: `model version ${batch.versionHash} was revoked by its publisher` };
  const agrees = await read<boolean>('verifyOutput', [
    r.root, leaf.version_hash, leaf.request_hash, leaf.response_hash, t, leaf.salt, r.proof,
  ]);
  if (!agrees) return { ok: false, reason: "the registry's verifyOutput view refuses this leaf and proof" };
  const publisher = await read<{ name: string }>('getPublisher', [key.publisher]);
  return {
    ok: true,
    verdict: {
      publisher: getAddress(key.publisher),
      publisherName: publisher.name,
      attestor: getAddress(batch.attestor),
      anchoredAt: Number(batch.anchoredAt),
      anchoredBlock: Number(batch.anchoredBlock),
      windowStart: Number(batch.windowStart),
      windowEnd: Number(batch.windowEnd),
      leafCount: Number(batch.leafCount),
    },
  };
}

/** The lines `prova verify output` prints. */
export function receiptLines(
  r: Receipt,
  result: { ok: true; verdict: OutputVerdict } | { ok: false; reason: string },
  gave: { request: boolean; response: boolean },
): string[] {
  const leaf = r.leaf;
  const out = [
    `model version ${leaf.version_hash}`,
    `request hash  ${leaf.request_hash}${gave.request ? ' (matches the file)' : ' (file not given)'}`,
    `response hash ${leaf.response_hash}${gave.response ? ' (matches the file)' : ' (file not given)'}`,
    `batch root    ${r.root} on chain ${r.chain_id}, registry ${r.registry}`,
  ];
  if (result.ok) {
    const v = result.verdict;
    out.push(`publisher     ${v.publisherName} (${v.publisher}), by the key that anchored the batch`);
    out.push(`anchored      block ${v.anchoredBlock} at ${iso8601(v.anchoredAt)} by attestor ${v.attestor} (${v.leafCount} outputs in the batch)`);
    out.push(`claimed time  ${iso8601(leaf.timestamp)} (the attestor's claim, inside the batch window ${iso8601(v.windowStart)} to ${iso8601(v.windowEnd)})`);
    out.push(`VERIFIED: model version ${leaf.version_hash} produced this response to this request no later than ${iso8601(v.anchoredAt)} (the anchoring block's time)`);
  } else {
    if (gave.request && result.reason.startsWith('the request')) out[1] = `request hash  ${leaf.request_hash} (does not match the file)`;
    if (gave.response && result.reason.startsWith('the response')) out[2] = `response hash ${leaf.response_hash} (does not match the file)`;
    out.push(`claimed time  ${iso8601(leaf.timestamp)} (the attestor's claim)`);
    out.push(`NOT VERIFIED: ${result.reason}`);
  }
  return out;
}

// ------------------------------------------------------------------------------------------------------------
// File proofs (`prova model prove-file`)
// ------------------------------------------------------------------------------------------------------------

/** A file's proof of membership in a version, as `prova model prove-file` prints it. */
export interface FileProof {
  version_hash: Hex;
  leaf_types?: string[];
  path: string;
  size: number;
  sha256: Hex;
  leaf?: Hex;
  proof: Hex[];
}

/** The proof document of `entry` in a version whose files are `files`. */
export function proveFile(entry: FileEntry, proof: Hex[], hash: Hex): FileProof {
  return {
    version_hash: hash,
    leaf_types: ['string', 'uint64', 'bytes32'],
    path: entry.path,
    size: entry.size,
    sha256: entry.sha256,
    leaf: fileLeaf(entry),
    proof,
  };
}

/** Reads a file proof, or says why it is not one. */
export function parseFileProof(text: string): FileProof {
  let p: FileProof;
  try {
    p = JSON.parse(text);
  } catch {
    throw new Error('the proof is not JSON');
  }
  const hex32 = (v: unknown) => typeof v === 'string' && /^0x[0-9a-fA-F]{64}$/.test(v);
  if (!p || !hex32(p.version_hash) || typeof p.path !== 'string' || typeof p.size !== 'number' || !hex32(p.sha256) ||
      !Array.isArray(p.proof) || !p.proof.every(hex32)) {
    throw new Error('not a prova file proof (from `prova model prove-file` or a version page)');
  }
  return p;
}

/** The verdict on a file proof: the file's bytes (when given) match it, the proof links it to the version, and
 * the registry's `verifyFile` agrees for a standing claim of the version. */
export async function verifyFileProof(
  client: PublicClient,
  registry: Address,
  p: FileProof,
  file?: { size: number; sha256: Hex },
): Promise<{ verified: boolean; lines: string[] }> {
  const lines = [`file          ${p.path} (${p.size} bytes, sha256 ${p.sha256})`, `version hash  ${p.version_hash}`];
  if (file) {
    if (file.sha256.toLowerCase() !== p.sha256.toLowerCase() || file.size !== p.size) {
      lines.push(`NOT VERIFIED: the file does not match the proof: sha256 ${file.sha256} (${file.size} bytes), the proof says ${p.sha256} (${p.size} bytes)`);
      return { verified: false, lines };
    }
    lines.push('bytes         the file given hashes to the proof\'s digest');
  }
  const leaf = fileLeaf({ path: p.path, size: p.size, sha256: p.sha256 });
  if (processProof(leaf, p.proof) !== p.version_hash.toLowerCase()) {
    lines.push(`NOT VERIFIED: the Merkle proof does not link this file to version ${p.version_hash}`);
    return { verified: false, lines };
  }
  const verdict = await verifyModelVersion(client, registry, p.version_hash);
  lines.push(`registry      ${verdict.registry} on chain ${verdict.chainId}`);
  lines.push(...claimLines(verdict));
  const failure = modelFailure(verdict);
  if (failure) {
    lines.push(`NOT VERIFIED: ${failure}`);
    return { verified: false, lines };
  }
  const standing = verdict.claims.filter((c) => !claimProblem(c));
  for (const claim of standing) {
    const ok = (await client.readContract({
      address: registry, abi: registryAbi, functionName: 'verifyFile',
      args: [claim.publisher, p.version_hash, p.path, BigInt(p.size), p.sha256, p.proof],
    })) as boolean;
    if (ok) {
      lines.push(`VERIFIED: ${p.path} is a file of version ${p.version_hash}, which ${claim.publisherName} (${claim.publisher}) claims (the registry's verifyFile agrees)`);
      return { verified: true, lines };
    }
  }
  lines.push("NOT VERIFIED: the registry's verifyFile view refuses this file and proof");
  return { verified: false, lines };
}
