// The same content prova stores for a NonceInvalidated event (migrations/registry/0001_registry_events.sql): its
// position on the chain, the signer and the nonce, keyed by (chain_id, tx_hash, log_index), with an index by block.
import { index, onchainTable, primaryKey } from "ponder";

export const nonceInvalidated = onchainTable(
  "nonce_invalidated",
  (t) => ({
    chainId: t.bigint().notNull(),
    txHash: t.hex().notNull(),
    logIndex: t.bigint().notNull(),
    contract: t.hex().notNull(),
    blockNumber: t.bigint().notNull(),
    blockHash: t.hex().notNull(),
    blockTime: t.bigint().notNull(),
    signer: t.hex().notNull(),
    nonce: t.bigint().notNull(),
  }),
  (table) => ({
    pk: primaryKey({ columns: [table.chainId, table.txHash, table.logIndex] }),
    block: index().on(table.chainId, table.blockNumber),
  }),
);
