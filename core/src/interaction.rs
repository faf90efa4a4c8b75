//! ERC-8004 interaction receipts: the EIP-712 `InteractionReceipt` an agent signs for a client, so that the client's
//! feedback counts as verified, in the JSON form `prova agent receipt` writes.
//!
//! A receipt names its signer and the time it was issued. The reputation registry accepts it until its deadline if
//! the signer was the agent's owner or wallet at that time, even after the wallet changed since, so an agent cannot
//! void the receipts it handed out; the deadline may be at most [`MAX_RECEIPT_LIFETIME_SECS`] after the issue time.

use alloy::primitives::{Address, B256, Bytes, U256};
use alloy::signers::SignerSync;
use alloy::signers::local::PrivateKeySigner;
use serde::{Deserialize, Serialize};

use crate::bindings::IReputationRegistry::InteractionReceipt;
use crate::error::Result;

/// The longest a receipt may stay usable after it is issued: the reputation registry's `MAX_RECEIPT_LIFETIME`
/// (30 days).
pub const MAX_RECEIPT_LIFETIME_SECS: u64 = 30 * 24 * 60 * 60;

/// The fields of an `InteractionReceipt` other than its signer, in a JSON-friendly form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptFields {
    /// The agent that served the interaction.
    pub agent_id: U256,
    /// The client that may give feedback with it.
    pub client: Address,
    /// Identifies the interaction (a job id, a payment transaction hash, ...); each backs one feedback.
    pub interaction_hash: B256,
    /// Unix time (chain time) at which the receipt is issued: its signer must be the agent's owner or wallet then.
    pub issued_at: u64,
    /// Unix time (chain time) after which the receipt is refused; at most [`MAX_RECEIPT_LIFETIME_SECS`] after
    /// `issued_at`.
    pub deadline: u64,
}

impl ReceiptFields {
    /// The EIP-712 message, as signed by `signer`.
    pub fn message(&self, signer: Address) -> InteractionReceipt {
        InteractionReceipt {
            agentId: self.agent_id,
            client: self.client,
            interactionHash: self.interaction_hash,
            signer,
            issuedAt: U256::from(self.issued_at),
            deadline: U256::from(self.deadline),
        }
    }
}

/// An interaction receipt signed by the agent's wallet or owner, as `prova agent receipt` writes it and
/// `prova agent feedback --receipt` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedReceipt {
    /// The chain of the reputation registry.
    pub chain_id: u64,
    /// The reputation registry whose EIP-712 domain the receipt is signed in.
    pub reputation_registry: Address,
    /// The receipt.
    pub receipt: ReceiptFields,
    /// Who signed it: the message's `signer` field.
    pub signer: Address,
    /// The 65-byte ECDSA signature.
    pub signature: Bytes,
}

impl SignedReceipt {
    /// Signs `receipt` for the registry at `reputation` on `chain_id`, naming `signer` as its signer.
    pub fn sign(signer: &PrivateKeySigner, chain_id: u64, reputation: Address, receipt: ReceiptFields) -> Result<Self> {
        let digest = receipt.message(signer.address()).signing_hash(chain_id, reputation);
        let signature = signer.sign_hash_sync(&digest)?;
        Ok(Self {
            chain_id,
            reputation_registry: reputation,
            receipt,
            signer: signer.address(),
            signature: signature.as_bytes().to_vec().into(),
        })
    }

    /// The EIP-712 message, as `giveFeedbackWithReceipt` takes it.
    pub fn message(&self) -> InteractionReceipt {
        self.receipt.message(self.signer)
    }

    /// The address that produced the signature over [`Self::message`] (whatever `signer` claims; a different
    /// address when the claim is false).
    pub fn recover_signer(&self) -> Result<Address> {
        let signature = alloy::primitives::Signature::try_from(self.signature.as_ref())?;
        let digest = self.message().signing_hash(self.chain_id, self.reputation_registry);
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
            issued_at: 1_799_996_400,
            deadline: 1_800_000_000,
        };
        let signed = SignedReceipt::sign(&signer, 31337, Address::repeat_byte(3), fields).unwrap();
        assert_eq!(signed.message().signer, signer.address());
        assert_eq!(signed.recover_signer().unwrap(), signer.address());
        let json = serde_json::to_string(&signed).unwrap();
        let back: SignedReceipt = serde_json::from_str(&json).unwrap();
        assert_eq!(back, signed);
        let mut forged = signed.clone();
        forged.receipt.client = Address::repeat_byte(9);
        assert_ne!(forged.recover_signer().unwrap(), signer.address());
        let mut backdated = signed.clone();
        backdated.receipt.issued_at -= 1;
        assert_ne!(backdated.recover_signer().unwrap(), signer.address());
        let mut claimed = signed;
        claimed.signer = Address::repeat_byte(7);
        assert_ne!(claimed.recover_signer().unwrap(), Address::repeat_byte(7));
    }

    /// The digest matches a second EIP-712 implementation (ethers' `_TypedDataEncoder.hash`, run for this test on
    /// the same domain and message).
    #[test]
    fn the_receipt_digest_matches_ethers() {
        let fields = ReceiptFields {
            agent_id: U256::from(7),
            client: "0x90F79bf6EB2c4f870365E785982E1f101E93b906".parse().unwrap(),
            interaction_hash: B256::repeat_byte(0x22),
            issued_at: 1_800_000_000,
            deadline: 1_800_003_600,
        };
        let signer: Address = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8".parse().unwrap();
        let reputation: Address = "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512".parse().unwrap();
        let expected: B256 = "0x3ec68cacd67791b20c7fac2c7e8d1f8ec5039ce1c95238b43bceb227a070b7d6".parse().unwrap();
        assert_eq!(fields.message(signer).signing_hash(31337, reputation), expected);
    }
}
