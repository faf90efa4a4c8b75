//! ERC-8004 interaction receipts: the EIP-712 `InteractionReceipt` an agent signs for a client, so that the client's
//! feedback counts as verified, in the JSON form `prova agent receipt` writes.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::bindings::IReputationRegistry::InteractionReceipt;
use crate::error::Result;

/// The fields of an `InteractionReceipt`, in a JSON-friendly form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFields {
    /// The agent that served the interaction.
    pub agent_id: U256,
    /// The client that may give feedback with it.
    pub client: Address,
    /// Identifies the interaction (a job id, a payment transaction hash, ...); each backs one feedback.
    pub interaction_hash: B256,
    /// Unix time (chain time) after which the receipt is refused.
    pub deadline: u64,
}

impl ReceiptFields {
    /// The EIP-712 message.
    pub fn message(&self) -> InteractionReceipt {
        InteractionReceipt {
            agentId: self.agent_id,
            client: self.client,
            interactionHash: self.interaction_hash,
            deadline: U256::from(self.deadline),
        }
    }
}

/// An interaction receipt signed by the agent's wallet (or owner), as `prova agent receipt` writes it and
/// `prova agent feedback --receipt` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The chain of the reputation registry.
    pub chain_id: u64,
    /// The reputation registry whose EIP-712 domain the receipt is signed in.
    pub reputation_registry: Address,
    /// The receipt.
    pub receipt: ReceiptFields,
    /// Who signed it.
    pub signer: Address,
    /// The 65-byte ECDSA signature.
    pub signature: Bytes,
}

impl SignedReceipt {
    /// Signs `receipt` for the registry at `reputation` on `chain_id`.
    pub fn sign(signer: &PrivateKeySigner, chain_id: u64, reputation: Address, receipt: ReceiptFields) -> Result<Self> {
        let digest = receipt.message().signing_hash(chain_id, reputation);
        let signature = signer.sign_hash_sync(&digest)?;
        Ok(Self {
            chain_id,
            reputation_registry: reputation,
            receipt,
            signer: signer.address(),
            signature: signature.as_bytes().to_vec().into(),
        })
    }

    /// The address that produced the signature (whatever `signer` claims).
    pub fn recover_signer(&self) -> Result<Address> {
        let signature = alloy::primitives::Signature::try_from(self.signature.as_ref())?;
        let digest = self.receipt.message().signing_hash(self.chain_id, self.reputation_registry);
        Ok(signature.recover_address_from_prehash(&digest)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_receipt_recovers_its_signer_and_round_trips_as_json() {
        let signer = PrivateKeySigner::random();
        let fields = ReceiptFields {
            agent_id: U256::from(1),
            client: Address::repeat_byte(1),
            interaction_hash: B256::repeat_byte(2),
            deadline: 1_800_000_000,
        };
        let signed = SignedReceipt::sign(&signer, 31337, Address::repeat_byte(3), fields).unwrap();
        assert_eq!(signed.recover_signer().unwrap(), signer.address());
        let json = serde_json::to_string(&signed).unwrap();
        let back: SignedReceipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, signed);
        let mut forged = signed.clone();
        forged.receipt.client = Address::repeat_byte(9);
        assert_ne!(forged.recover_signer().unwrap(), signer.address());
    }
}
