//! Contract bindings generated from the Solidity interfaces, the EIP-712 types, and the registry's bytecode.

// The generated items carry the interfaces' NatSpec as docs where it exists; the rest are generated glue. Their
// constructors mirror the Solidity signatures, so their argument counts are the contracts'.
#![allow(missing_docs, clippy::too_many_arguments, missing_debug_implementations, unreachable_pub)]

use alloy::primitives::{Address, B256, Bytes, U256, keccak256};
use alloy::sol_types::{Eip712Domain, SolStruct, eip712_domain};

alloy::sol!(
    #[sol(rpc, all_derives)]
    "../contracts/src/interfaces/IProvenanceRegistry.sol"
);

alloy::sol!(
    #[sol(rpc, all_derives)]
    "../contracts/src/interfaces/erc8004/IIdentityRegistry.sol"
);

alloy::sol!(
    #[sol(rpc, all_derives)]
    "../contracts/src/interfaces/erc8004/IReputationRegistry.sol"
);

alloy::sol!(
    #[sol(rpc, all_derives)]
    "../contracts/src/interfaces/erc8004/IValidationRegistry.sol"
);

/// The metadata key that binds an agent to a ProvenanceRegistry model version (32 bytes: the version hash).
pub const MODEL_VERSION_KEY: &str = "prova.modelVersion";
/// The reserved metadata key under which the identity registry announces the agent wallet.
pub const AGENT_WALLET_KEY: &str = "agentWallet";
/// Largest `valueDecimals` ERC-8004 allows in a feedback value.
pub const MAX_VALUE_DECIMALS: u8 = 18;
/// EIP-712 domain name of the ReputationRegistry (interaction receipts).
pub const REPUTATION_DOMAIN_NAME: &str = "prova ReputationRegistry";
/// EIP-712 domain name of the IdentityRegistry (agent wallet proofs): the ERC-8004 reference registry's, so that
/// signatures made for it (e.g. by agent0-sdk) work unchanged.
pub const IDENTITY_DOMAIN_NAME: &str = "ERC8004IdentityRegistry";

/// The EIP-712 domain of a ReputationRegistry deployment, under which agent wallets sign interaction receipts.
pub fn reputation_domain(chain_id: u64, reputation: Address) -> Eip712Domain {
    eip712_domain! {
        name: REPUTATION_DOMAIN_NAME,
        version: "1",
        chain_id: chain_id,
        verifying_contract: reputation,
    }
}

/// The EIP-712 domain of an IdentityRegistry deployment, under which a new agent wallet proves control.
pub fn identity_domain(chain_id: u64, identity: Address) -> Eip712Domain {
    eip712_domain! {
        name: IDENTITY_DOMAIN_NAME,
        version: "1",
        chain_id: chain_id,
        verifying_contract: identity,
    }
}

impl IReputationRegistry::InteractionReceipt {
    /// The digest the receipt's `signer` (the agent's owner or wallet) signs on the given deployment.
    pub fn signing_hash(&self, chain_id: u64, reputation: Address) -> B256 {
        self.eip712_signing_hash(&reputation_domain(chain_id, reputation))
    }
}

alloy::sol! {
    /// The typed data a new agent wallet signs to accept being an agent's wallet: ERC-8004's `AgentWalletSet`, as
    /// the reference registry and agent0-sdk have it. `owner` is the agent's owner when the wallet is set, and
    /// `deadline` at most 5 minutes after the block time.
    #[derive(Debug, PartialEq, Eq)]
    struct AgentWalletSet {
        uint256 agentId;
        address newWallet;
        address owner;
        uint256 deadline;
    }
}

impl AgentWalletSet {
    /// The digest the new wallet signs on the given deployment.
    pub fn signing_hash(&self, chain_id: u64, identity: Address) -> B256 {
        self.eip712_signing_hash(&identity_domain(chain_id, identity))
    }
}

alloy::sol! {
    /// The typed data an attestor key signs to register a model version.
    #[derive(Debug, PartialEq, Eq)]
    struct RegisterModelVersion {
        address publisher;
        bytes32 versionHash;
        bytes32 modelId;
        bytes32 parent;
        string metadataURI;
        bytes32 metadataHash;
        bytes32 commitSalt;
        uint256 nonce;
        uint256 deadline;
    }
}

alloy::sol! {
    /// The typed data a key signs to be added as an attestor of `publisher` (its proof of possession).
    #[derive(Debug, PartialEq, Eq)]
    struct AddAttestor {
        address publisher;
        uint256 deadline;
    }
}

impl AddAttestor {
    /// The digest the key signs for this message on the given deployment.
    pub fn signing_hash(&self, chain_id: u64, registry: Address) -> B256 {
        self.eip712_signing_hash(&registry_domain(chain_id, registry))
    }
}

alloy::sol! {
    /// The typed data an attestor key signs to anchor a batch of model outputs.
    #[derive(Debug, PartialEq, Eq)]
    struct AttestOutputs {
        bytes32 versionHash;
        bytes32 root;
        uint64 leafCount;
        uint64 windowStart;
        uint64 windowEnd;
        string batchURI;
        uint256 nonce;
        uint256 deadline;
    }
}

impl AttestOutputs {
    /// The digest an attestor key signs for this message on the given deployment.
    pub fn signing_hash(&self, chain_id: u64, registry: Address) -> B256 {
        self.eip712_signing_hash(&registry_domain(chain_id, registry))
    }
}

/// EIP-712 domain name of the ProvenanceRegistry.
pub const REGISTRY_DOMAIN_NAME: &str = "ProvaProvenanceRegistry";
/// EIP-712 domain version of the ProvenanceRegistry.
pub const REGISTRY_DOMAIN_VERSION: &str = "1";

/// The EIP-712 domain of a ProvenanceRegistry deployment.
pub fn registry_domain(chain_id: u64, registry: Address) -> Eip712Domain {
    eip712_domain! {
        name: REGISTRY_DOMAIN_NAME,
        version: REGISTRY_DOMAIN_VERSION,
        chain_id: chain_id,
        verifying_contract: registry,
    }
}

impl RegisterModelVersion {
    /// The digest an attestor key signs for this message on the given deployment.
    pub fn signing_hash(&self, chain_id: u64, registry: Address) -> B256 {
        self.eip712_signing_hash(&registry_domain(chain_id, registry))
    }

    /// The same fields as the contract call's argument.
    pub fn claim(&self) -> IProvenanceRegistry::VersionClaim {
        IProvenanceRegistry::VersionClaim {
            publisher: self.publisher,
            versionHash: self.versionHash,
            modelId: self.modelId,
            parent: self.parent,
            metadataURI: self.metadataURI.clone(),
            metadataHash: self.metadataHash,
            commitSalt: self.commitSalt,
            nonce: self.nonce,
            deadline: self.deadline,
        }
    }
}

/// The commitment a claim of `version_hash` by `publisher` reveals with `salt`:
/// `keccak256(abi.encode(publisher, versionHash, salt))`, as the registry's `commitmentOf` computes it.
pub fn commitment_of(publisher: Address, version_hash: B256, salt: B256) -> B256 {
    use alloy::sol_types::SolValue;
    keccak256((publisher, version_hash, salt).abi_encode())
}

/// The model id of a model name: `keccak256(bytes(name))`.
pub fn model_id(name: &str) -> B256 {
    keccak256(name.as_bytes())
}

/// Creation bytecode of `ProvenanceRegistry`, regenerated by `scripts/export-abi.sh`.
pub fn registry_bytecode() -> Bytes {
    bytecode(include_str!("../artifacts/ProvenanceRegistry.bin"))
}

/// Creation bytecode of the ERC-8004 `IdentityRegistry` (constructor: none).
pub fn identity_bytecode() -> Bytes {
    bytecode(include_str!("../artifacts/IdentityRegistry.bin"))
}

/// Creation bytecode of the ERC-8004 `ReputationRegistry` (constructor: the identity registry's address).
pub fn reputation_bytecode() -> Bytes {
    bytecode(include_str!("../artifacts/ReputationRegistry.bin"))
}

/// Creation bytecode of the ERC-8004 `ValidationRegistry` (constructor: the identity registry's address).
pub fn validation_bytecode() -> Bytes {
    bytecode(include_str!("../artifacts/ValidationRegistry.bin"))
}

fn bytecode(hex: &str) -> Bytes {
    hex.trim().parse().expect("core/artifacts/*.bin hold valid hex (scripts/export-abi.sh writes them)")
}

/// A fresh random nonce for the registry's unordered nonces.
pub fn random_nonce() -> U256 {
    U256::from_be_bytes(alloy::primitives::B256::random().0)
}
