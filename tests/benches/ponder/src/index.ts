// One row per NonceInvalidated event, inserted as it is indexed.
import { ponder } from "ponder:registry";
import { nonceInvalidated } from "ponder:schema";

ponder.on("Registry:NonceInvalidated", async ({ event, context }) => {
  await context.db.insert(nonceInvalidated).values({
    chainId: BigInt(context.network.chainId),
    txHash: event.transaction.hash,
    logIndex: BigInt(event.log.logIndex),
    contract: event.log.address,
    blockNumber: event.block.number,
    blockHash: event.block.hash,
    blockTime: event.block.timestamp,
    signer: event.args.signer,
    nonce: event.args.nonce,
  });
});
