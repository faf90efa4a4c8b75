//! One revert decoder for every prova contract: the ProvenanceRegistry's and the ERC-8004 registries' custom
//! errors explained in words, and contract or RPC errors turned into [`Error`]s that keep their cause.

use alloy::sol_types::SolInterface;
use alloy::transports::{RpcError, TransportErrorKind};
use prova_core::bindings::IIdentityRegistry::IIdentityRegistryErrors;
use prova_core::bindings::IProvenanceRegistry::IProvenanceRegistryErrors;
use prova_core::bindings::IReputationRegistry::IReputationRegistryErrors;
use prova_core::bindings::IValidationRegistry::IValidationRegistryErrors;
use prova_core::bindings::MODEL_VERSION_KEY;

use crate::error::Error;

/// Explains a revert of a prova contract (the ProvenanceRegistry, or an ERC-8004 identity, reputation or validation
/// registry) in words; `None` when the data is none of their custom errors.
pub fn explain_revert(data: &[u8]) -> Option<String> {
    if let Ok(error) = IProvenanceRegistryErrors::abi_decode(data) {
        return Some(format!("{error:?}"));
    }
    if let Ok(error) = IIdentityRegistryErrors::abi_decode(data) {
        return Some(explain_identity(&error));
    }
    if let Ok(error) = IReputationRegistryErrors::abi_decode(data) {
        return Some(explain_reputation(&error));
    }
    if let Ok(error) = IValidationRegistryErrors::abi_decode(data) {
        return Some(explain_validation(&error));
    }
    None
}

fn explain_identity(error: &IIdentityRegistryErrors) -> String {
    use IIdentityRegistryErrors as E;
    match error {
        E::IdentityUnauthorized(e) => format!("{} is not the owner or an operator of agent {}", e.caller, e.agentId),
        E::IdentityReservedMetadataKey(e) => {
            format!("metadata key {:?} is reserved; the agent wallet is set with setAgentWallet", e.metadataKey)
        }
        E::InvalidModelVersion(_) => format!("a {MODEL_VERSION_KEY} value must be a non-zero 32-byte version hash"),
        E::IdentityZeroWallet(_) => "the agent wallet cannot be the zero address (unset it instead)".into(),
        E::IdentityWalletSignatureExpired(e) => format!("the wallet's signature expired at unix time {}", e.deadline),
        E::IdentityWalletDeadlineTooFar(e) => format!(
            "the wallet signature's deadline {} is too far ahead (at most {}: five minutes from now); sign again with a nearer deadline",
            e.deadline, e.latest
        ),
        E::IdentityWalletSignatureReplayed(e) => format!(
            "a wallet signature for {} with deadline {} was already used or superseded (last deadline {}); sign a new one",
            e.newWallet, e.deadline, e.lastDeadline
        ),
        E::IdentityInvalidWalletSignature(e) => {
            format!("the signature is not an AgentWallet signature of {}", e.newWallet)
        }
        E::ERC721NonexistentToken(e) => format!("agent {} does not exist in the identity registry", e.tokenId),
        E::ERC721InsufficientApproval(e) => format!("{} may not move agent {}", e.operator, e.tokenId),
    }
}

fn explain_reputation(error: &IReputationRegistryErrors) -> String {
    use IReputationRegistryErrors as E;
    match error {
        E::ReputationInvalidIdentityRegistry(e) => format!("identity registry {} has no code", e.identityRegistry),
        E::ReputationUnknownAgent(e) => format!("agent {} does not exist in the identity registry", e.agentId),
        E::ReputationSelfFeedback(e) => {
            format!("{} is the owner or an operator of agent {} and cannot rate it", e.caller, e.agentId)
        }
        E::ReputationInvalidValueDecimals(e) => format!("valueDecimals is {}; at most 18 are allowed", e.valueDecimals),
        E::ReputationUnknownFeedback(e) => {
            format!("{} has no feedback #{} for agent {}", e.clientAddress, e.feedbackIndex, e.agentId)
        }
        E::ReputationFeedbackAlreadyRevoked(e) => {
            format!("feedback #{} of {} for agent {} is already revoked", e.feedbackIndex, e.clientAddress, e.agentId)
        }
        E::ReputationValueOutOfRange(e) => {
            format!("the feedback value {} is out of range (|value| at most 1e38)", e.value)
        }
        E::ReputationEmptyResponseURI(_) => "a response needs a non-empty response URI".into(),
        E::ReceiptLifetimeTooLong(e) => format!(
            "the receipt lives too long: issued at unix time {}, deadline {} (at most 30 days after issue)",
            e.issuedAt, e.deadline
        ),
        E::ReceiptUnauthorizedSigner(e) => format!(
            "the receipt's signer {} was not the agent's owner, operator or wallet at its issue time {}",
            e.signer, e.issuedAt
        ),
        E::ReputationEmptyClients(_) => "getSummary needs at least one client address".into(),
        E::ReceiptWrongAgent(e) => format!("the receipt is for agent {}, not agent {}", e.receiptAgentId, e.agentId),
        E::ReceiptWrongClient(e) => {
            format!("the receipt names client {}, but the sender is {}", e.receiptClient, e.caller)
        }
        E::ReceiptExpired(e) => format!("the receipt expired at unix time {}", e.deadline),
        E::InvalidReceiptSignature(e) => format!(
            "the receipt is not signed by {} (the agent's wallet, or its owner when it has no wallet)",
            e.expectedSigner
        ),
        E::ReceiptAlreadyUsed(e) => {
            format!("interaction {} of agent {} already backs a feedback", e.interactionHash, e.agentId)
        }
    }
}

fn explain_validation(error: &IValidationRegistryErrors) -> String {
    use IValidationRegistryErrors as E;
    match error {
        E::ValidationInvalidIdentityRegistry(e) => format!("identity registry {} has no code", e.identityRegistry),
        E::ValidationUnknownAgent(e) => format!("agent {} does not exist in the identity registry", e.agentId),
        E::ValidationUnauthorized(e) => format!("{} is not the owner or an operator of agent {}", e.caller, e.agentId),
        E::ValidationZeroValidator(_) => "the validator address cannot be zero".into(),
        E::ValidationRequestExists(e) => format!("validation request {} already exists", e.requestHash),
        E::ValidationUnknownRequest(e) => format!("validation request {} does not exist", e.requestHash),
        E::ValidationNotValidator(e) => {
            format!("{} is not the validator named in request {}", e.caller, e.requestHash)
        }
        E::ValidationInvalidResponse(e) => format!("a validation response is 0 to 100, not {}", e.response),
    }
}

/// An RPC error as an [`Error`]: a registry's custom error explained, otherwise the RPC error kept as the cause.
pub fn rpc_error(what: impl Into<String>, error: RpcError<TransportErrorKind>) -> Error {
    if let Some(payload) = error.as_error_resp()
        && let Some(data) = payload.as_revert_data()
        && let Some(reason) = explain_revert(&data)
    {
        return Error::Refused { action: "transaction", reason };
    }
    Error::Rpc { what: what.into(), source: error }
}

/// A contract call error as an [`Error`]: a registry's custom error explained, otherwise the error kept as the cause.
pub fn call_error(what: impl Into<String>, error: alloy::contract::Error) -> Error {
    match error.as_revert_data().and_then(|d| explain_revert(&d)) {
        Some(reason) => Error::Refused { action: "call", reason },
        None => Error::Call { what: what.into(), source: Box::new(error) },
    }
}

/// A contract call error in words, for reports that collect messages: the custom error explained when there is one.
pub fn describe_contract_error(error: &alloy::contract::Error) -> String {
    match error.as_revert_data().and_then(|d| explain_revert(&d)) {
        Some(reason) => format!("the registry refused the call: {reason}"),
        None => error.to_string(),
    }
}

/// What a contract answered to a call that failed, when it did answer: a revert (with the registries' custom
/// errors explained), no code at the address, or undecodable data. `None` when the node could not be reached or
/// refused for another reason, i.e. the call could not be checked.
pub fn contract_answer(error: &alloy::contract::Error) -> Option<String> {
    use alloy::contract::Error as E;
    match error {
        E::TransportError(RpcError::ErrorResp(payload)) => {
            let reverted = payload.as_revert_data().is_some() || payload.message.to_lowercase().contains("revert");
            reverted.then(|| format!("reverts ({})", describe_contract_error(error)))
        }
        E::TransportError(_) => None,
        E::ZeroData(..) => Some("no answer (no contract code at that address?)".into()),
        other => Some(format!("an unreadable answer ({other})")),
    }
}

/// A view call's result: `Ok(Ok(value))`, `Ok(Err(what the contract answered instead))`, or an error when the node
/// could not be reached.
pub fn view<T>(
    result: std::result::Result<T, alloy::contract::Error>,
    what: &str,
) -> crate::Result<std::result::Result<T, String>> {
    match result {
        Ok(value) => Ok(Ok(value)),
        Err(error) => match contract_answer(&error) {
            Some(answer) => Ok(Err(answer)),
            None => Err(call_error(format!("calling {what}"), error)),
        },
    }
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{Address, U256};
    use alloy::sol_types::SolInterface;
    use prova_core::bindings::IIdentityRegistry::{self, IIdentityRegistryErrors};
    use prova_core::bindings::IReputationRegistry::{self, IReputationRegistryErrors};

    use super::explain_revert;

    #[test]
    fn reverts_are_explained() {
        let data = IReputationRegistryErrors::ReputationSelfFeedback(IReputationRegistry::ReputationSelfFeedback {
            agentId: U256::from(7),
            caller: Address::repeat_byte(0xaa),
        })
        .abi_encode();
        let text = explain_revert(&data).unwrap();
        assert!(text.contains("cannot rate it") && text.contains("agent 7"), "{text}");
        let data = IIdentityRegistryErrors::ERC721NonexistentToken(IIdentityRegistry::ERC721NonexistentToken {
            tokenId: U256::from(3),
        })
        .abi_encode();
        assert_eq!(explain_revert(&data).unwrap(), "agent 3 does not exist in the identity registry");
        assert_eq!(explain_revert(&[1, 2, 3, 4]), None);
    }
}
