// Drives prova's ERC-8004 registries with agent0-sdk, the ecosystem's ERC-8004 client, as a dApp would, and
// prints a JSON report of everything it wrote and read back. tests/e2e/agent0.rs runs it on anvil and checks that
// prova's indexer, API and `prova verify reputation` show exactly that.
//
// RPC path only: chain 31337 has no default subgraph and none is configured, so every SDK read (loadAgent,
// getFeedback, getReputationSummary) goes to the chain. No IPFS: one agent registers an HTTP URI (its registration
// file is served by this script on a free local port), the other a `data:` URI (`registerOnChain`).
//
// Input, all in the environment:
//   AGENT0_RPC_URL              the chain's JSON-RPC URL
//   AGENT0_CHAIN_ID             its chain id
//   AGENT0_IDENTITY_REGISTRY    prova's IdentityRegistry
//   AGENT0_REPUTATION_REGISTRY  prova's ReputationRegistry
//   AGENT0_VALIDATION_REGISTRY  prova's ValidationRegistry
//   AGENT0_OWNER_KEY            private key that registers both agents and answers feedback
//   AGENT0_WALLET_KEY           private key of the wallet `setWallet` gives the HTTP agent
//   AGENT0_CLIENT_KEYS          four comma-separated private keys of the clients who rate
// Output: the report on stdout (JSON); progress on stderr. Any SDK error exits 1 with the error on stderr.
//
// Run by hand against `prova dev` or anvil: `node tests/agent0/drive.mjs` with the variables above set.

import { readFileSync } from 'node:fs';
import http from 'node:http';
import { SDK, buildErc8004RegistrationJson } from 'agent0-sdk';
import { keccak256, toBytes } from 'viem';
import { privateKeyToAccount } from 'viem/accounts';

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const log = (...args) => console.error('[agent0]', ...args);

const chainId = Number(env('AGENT0_CHAIN_ID'));
const rpcUrl = env('AGENT0_RPC_URL');
const registries = {
  IDENTITY: env('AGENT0_IDENTITY_REGISTRY'),
  REPUTATION: env('AGENT0_REPUTATION_REGISTRY'),
  VALIDATION: env('AGENT0_VALIDATION_REGISTRY'),
};
const ownerKey = env('AGENT0_OWNER_KEY');
const walletKey = env('AGENT0_WALLET_KEY');
const clientKeys = env('AGENT0_CLIENT_KEYS').split(',');
if (clientKeys.length !== 4) throw new Error(`AGENT0_CLIENT_KEYS needs 4 keys, got ${clientKeys.length}`);

/** One SDK per key, as one dApp per user: custom chain, prova's registries, no subgraph, no IPFS. */
const sdkFor = (privateKey) =>
  new SDK({ chainId, rpcUrl, privateKey, registryOverrides: { [chainId]: registries } });
const address = (key) => privateKeyToAccount(key).address;

const owner = sdkFor(ownerKey);
const clients = clientKeys.map(sdkFor);
const clientAddresses = clientKeys.map(address);
const walletAddress = address(walletKey);

/** Waits for a transaction handle and returns its result, failing on a revert. */
const confirmed = async (handle) => (await handle.waitConfirmed({ timeoutMs: 60_000 })).result;

// ---------------------------------------------------------------------------------------------------------------
// Registration: an HTTP URI (the file served here) and an on-chain data URI.
// ---------------------------------------------------------------------------------------------------------------

/** Serves the HTTP agent's registration file, built from the agent's current state, at /agents/weather.json. */
async function serveRegistrationFile(agentRef) {
  const server = http.createServer((req, res) => {
    if (req.url !== '/agents/weather.json' || !agentRef.agent) {
      res.writeHead(404).end();
      return;
    }
    const json = buildErc8004RegistrationJson(agentRef.agent.getRegistrationFile(), {
      chainId,
      identityRegistryAddress: registries.IDENTITY,
    });
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(json));
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/agents/weather.json` };
}

const httpRef = {};
const { server, url: httpUri } = await serveRegistrationFile(httpRef);

const weather = owner.createAgent('Weather Oracle', 'Answers weather questions for a city and a date.');
httpRef.agent = weather;
weather.setMetadata({ version: '1.0.0', category: 'weather' });
weather.setActive(true);
const weatherFile = await confirmed(await weather.registerHTTP(httpUri));
log('registered', weatherFile.agentId, 'at', httpUri);

// setWallet: the new wallet signs the standard's EIP-712 AgentWalletSet; the owner sends it.
await confirmed(await weather.setWallet(walletAddress, { newWalletPrivateKey: walletKey }));
log('wallet of', weatherFile.agentId, 'set to', walletAddress);

const reviewer = owner.createAgent('Code Reviewer', 'Reviews pull requests.');
reviewer.setMetadata({ version: '2.1.0' });
reviewer.setActive(true);
const reviewerFile = await confirmed(await reviewer.registerOnChain());
log('registered', reviewerFile.agentId, 'with a data URI of', reviewerFile.agentURI.length, 'characters');

const agents = { weather: weatherFile.agentId, reviewer: reviewerFile.agentId };

// ---------------------------------------------------------------------------------------------------------------
// Feedback from four clients: decimals (up to 18), negative values, values above 100, tags, endpoints.
// `value` is what the dApp passes to giveFeedback (a number, or a string where a number would lose digits).
// ---------------------------------------------------------------------------------------------------------------

const plan = [
  { agent: 'weather', client: 0, value: 87.5, tag1: 'quality', tag2: 'speed', endpoint: 'https://weather.example/mcp' },
  { agent: 'weather', client: 0, value: 92.25, tag1: 'quality' },
  { agent: 'weather', client: 1, value: -3.7, tag1: 'quality', endpoint: 'https://weather.example/a2a' },
  { agent: 'weather', client: 1, value: '99.999999999999999999', tag1: 'uptime' },
  { agent: 'weather', client: 2, value: 150, tag1: 'quality' },
  { agent: 'weather', client: 2, value: 0.000001 },
  { agent: 'weather', client: 3, value: 100, tag1: 'quality', tag2: 'speed' },
  { agent: 'reviewer', client: 0, value: 75, tag1: 'quality' },
  { agent: 'reviewer', client: 1, value: 60.5, tag1: 'quality', endpoint: 'https://reviewer.example/review' },
  { agent: 'reviewer', client: 2, value: -20, tag1: 'quality' },
  { agent: 'reviewer', client: 3, value: 0 },
];

// Each client gives its feedback in order (the SDK reads getLastIndex before each); the clients run side by side.
const given = [];
await Promise.all(
  clients.map(async (sdk, c) => {
    for (const item of plan.filter((p) => p.client === c)) {
      const fb = await confirmed(
        await sdk.giveFeedback(agents[item.agent], item.value, item.tag1, item.tag2, item.endpoint),
      );
      given.push({ ...item, feedbackIndex: fb.id[2], sdkValue: String(fb.value), tags: fb.tags, txHash: fb.txHash });
    }
  }),
);
given.sort((a, b) => a.agent.localeCompare(b.agent) || a.client - b.client || a.feedbackIndex - b.feedbackIndex);
log('gave', given.length, 'feedback');

// Revocations: the 150 on the weather agent, the 0 on the reviewer.
const revoked = [
  { agent: 'weather', client: 2, feedbackIndex: 1 },
  { agent: 'reviewer', client: 3, feedbackIndex: 1 },
];
for (const r of revoked) {
  const fb = await confirmed(await clients[r.client].revokeFeedback(agents[r.agent], r.feedbackIndex));
  if (!fb.isRevoked) throw new Error(`revokeFeedback ${JSON.stringify(r)}: the SDK reads it back as not revoked`);
}
log('revoked', revoked.length);

// Responses: the owner answers twice to the negative rating and once to the first; a client answers another.
const responses = [
  { agent: 'weather', client: 0, feedbackIndex: 1, by: 'owner', uri: 'https://weather.example/responses/1' },
  { agent: 'weather', client: 1, feedbackIndex: 1, by: 'owner', uri: 'https://weather.example/responses/2' },
  { agent: 'weather', client: 1, feedbackIndex: 1, by: 'owner', uri: 'https://weather.example/responses/3' },
  { agent: 'reviewer', client: 2, feedbackIndex: 1, by: 3, uri: 'https://reviewer.example/disputes/1' },
];
for (const r of responses) {
  const responder = r.by === 'owner' ? owner : clients[r.by];
  const hash = keccak256(toBytes(`response ${r.uri}`));
  await confirmed(
    await responder.appendResponse(agents[r.agent], clientAddresses[r.client], r.feedbackIndex, { uri: r.uri, hash }),
  );
}
log('appended', responses.length, 'responses');

// ---------------------------------------------------------------------------------------------------------------
// Read everything back through the SDK, from a client's SDK (RPC path).
// ---------------------------------------------------------------------------------------------------------------

const reader = clients[3];
const readBack = [];
for (const g of given) {
  const fb = await reader.getFeedback(agents[g.agent], clientAddresses[g.client], g.feedbackIndex);
  readBack.push({
    agent: g.agent,
    client: g.client,
    feedbackIndex: g.feedbackIndex,
    value: String(fb.value),
    tags: fb.tags,
    endpoint: fb.endpoint ?? '',
    isRevoked: fb.isRevoked,
  });
}

const loaded = {};
for (const [name, id] of Object.entries(agents)) {
  const agent = await reader.loadAgent(id);
  loaded[name] = {
    agentId: agent.agentId,
    agentURI: agent.agentURI,
    name: agent.name,
    description: agent.description,
    wallet: (await agent.getWallet()) ?? null,
    owner: await reader.getAgentOwner(id),
  };
}

const summaryQueries = [
  { agent: 'weather' },
  { agent: 'weather', tag1: 'quality' },
  { agent: 'weather', tag1: 'quality', tag2: 'speed' },
  { agent: 'reviewer' },
  { agent: 'reviewer', tag1: 'quality' },
];
const summaries = [];
for (const q of summaryQueries) {
  const s = await reader.getReputationSummary(agents[q.agent], q.tag1, q.tag2);
  summaries.push({ ...q, tag1: q.tag1 ?? '', tag2: q.tag2 ?? '', count: s.count, averageValue: String(s.averageValue) });
}
log('read back', readBack.length, 'feedback,', summaries.length, 'summaries');
server.close();

const report = {
  sdkVersion: JSON.parse(readFileSync(new URL('../package.json', import.meta.resolve('agent0-sdk')), 'utf8')).version,
  owner: address(ownerKey),
  wallet: walletAddress,
  clients: clientAddresses,
  agents: Object.fromEntries(
    Object.entries(agents).map(([name, id]) => [
      name,
      {
        agentId: id.split(':')[1],
        agentURI: { weather: weatherFile, reviewer: reviewerFile }[name].agentURI,
        metadata: { weather, reviewer }[name].getMetadata(),
      },
    ]),
  ),
  given: given.map((g) => ({
    agent: g.agent,
    client: g.client,
    feedbackIndex: g.feedbackIndex,
    value: String(g.value),
    sdkValue: g.sdkValue,
    tag1: g.tag1 ?? '',
    tag2: g.tag2 ?? '',
    endpoint: g.endpoint ?? '',
    tags: g.tags,
    txHash: g.txHash,
  })),
  revoked,
  responses: responses.map(({ agent, client, feedbackIndex, by, uri }) => ({ agent, client, feedbackIndex, by, uri })),
  readBack,
  loaded,
  summaries,
};
process.stdout.write(JSON.stringify(report, null, 2) + '\n');
