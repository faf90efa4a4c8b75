// The peer in the indexer backfill benchmark (tests/benches/indexer.rs spawns `ponder start` with these variables):
// the registry's NonceInvalidated events on the bench's anvil chain, from the registry's deployment block.
import { createConfig } from "ponder";
import { http, parseAbi } from "viem";

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set (tests/benches/indexer.rs sets it)`);
  return value;
}

export default createConfig({
  // DATABASE_URL: a fresh database per round, so Ponder's RPC cache (schema `ponder_sync`) is never reused.
  database: { kind: "postgres", connectionString: required("DATABASE_URL") },
  networks: {
    anvil: {
      chainId: Number(required("PROVA_BENCH_CHAIN_ID")),
      // viem refuses answers over 10 MB by default, and Ponder 1.0.0 does not narrow its eth_getLogs range on that
      // error: on this chain (1,000 events a block) a 200-block range exceeds it and the sync stops. 256 MiB lets
      // Ponder choose its ranges as it would against a provider that limits results instead.
      transport: http(required("PROVA_BENCH_RPC_URL"), { maxResponseBodySize: 256 * 1024 * 1024 }),
    },
  },
  contracts: {
    Registry: {
      network: "anvil",
      // The one event of contracts/src/interfaces/IProvenanceRegistry.sol that the benchmark floods.
      abi: parseAbi(["event NonceInvalidated(address indexed signer, uint256 nonce)"]),
      address: required("PROVA_BENCH_REGISTRY") as `0x${string}`,
      startBlock: Number(required("PROVA_BENCH_START_BLOCK")),
    },
  },
});
