//! ERC-8004 validation requests and responses.

use alloy::primitives::{Address, B256, U256};
use alloy::sol_types::SolCall;
use prova_chain::{Account, TxInfo, call_error, check_contract, describe_contract_error};
use prova_core::bindings::IValidationRegistry;

use super::identity::require_operator;
use crate::error::{Error, Result};

/// Asks `validator` to validate work of `agent_id` (sent by its owner or an operator).
pub async fn request_validation(
    account: &Account,
    validation: Address,
    validator: Address,
    agent_id: U256,
    request_uri: &str,
    request_hash: B256,
) -> Result<TxInfo> {
    if validator.is_zero() {
        return Err(Error::Input("the validator address cannot be zero".into()));
    }
    check_contract(&account.provider, validation, None).await?;
    let identity =
        IValidationRegistry::new(validation, &account.provider).getIdentityRegistry().call().await.map_err(|e| {
            Error::Refused(format!(
                "{validation} does not look like a validation registry: {}",
                describe_contract_error(&e)
            ))
        })?;
    require_operator(&account.provider, identity, agent_id, account.address).await?;
    let call = IValidationRegistry::validationRequestCall {
        validatorAddress: validator,
        agentId: agent_id,
        requestURI: request_uri.to_owned(),
        requestHash: request_hash,
    };
    Ok(TxInfo::from(&account.send(validation, call.abi_encode().into()).await?))
}

/// Answers validation request `request_hash` with `response` (0 to 100), sent by the validator it names, for the
/// agent the validator worked for.
///
/// A request hash is global in ERC-8004: anyone who sees a request in the mempool can register the same hash first
/// for their own agent, and an answer would then be credited to that agent. So the validator names the agent it
/// worked for, and the answer is refused when the request on-chain is for another agent.
#[allow(clippy::too_many_arguments)]
pub async fn respond_validation(
    account: &Account,
    validation: Address,
    agent_id: U256,
    request_hash: B256,
    response: u8,
    response_uri: &str,
    response_hash: B256,
    tag: &str,
) -> Result<TxInfo> {
    if response > 100 {
        return Err(Error::Input(format!("a validation response is 0 to 100, not {response}")));
    }
    check_contract(&account.provider, validation, None).await?;
    let status = IValidationRegistry::new(validation, &account.provider)
        .getValidationStatus(request_hash)
        .call()
        .await
        .map_err(|e| call_error("calling the registry", e))?;
    if status.agentId != agent_id {
        return Err(Error::Refused(format!(
            "request {request_hash} is registered for agent {}, not agent {agent_id} you worked for: someone may have \
             copied the request hash for their own agent; ask agent {agent_id}'s owner to request again with a new hash",
            status.agentId
        )));
    }
    if status.validatorAddress != account.address {
        return Err(Error::Refused(format!(
            "request {request_hash} names validator {}, not the signing account {}",
            status.validatorAddress, account.address
        )));
    }
    let call = IValidationRegistry::validationResponseCall {
        requestHash: request_hash,
        response,
        responseURI: response_uri.to_owned(),
        responseHash: response_hash,
        tag: tag.to_owned(),
    };
    Ok(TxInfo::from(&account.send(validation, call.abi_encode().into()).await?))
}
