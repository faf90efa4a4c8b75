//! ERC-8004 agents from the sending side, shared by the `prova agent` commands, `prova dev` and the tests:
//! registering an agent and binding it to a model version, signing interaction receipts, giving and revoking
//! feedback, and validation requests and answers.
//!
//! Every sending function checks what it can before it signs (the chain, that the agent exists, that the sender
//! may act, that a receipt is usable now) and names the problem; a revert the checks did not foresee is decoded
//! from the registries' custom errors (`prova_chain::revert`).

pub mod feedback;
pub mod identity;
pub mod receipts;
pub mod validation;

pub use feedback::*;
pub use identity::*;
pub use receipts::*;
pub use validation::*;

#[cfg(test)]
mod tests {
    use alloy::primitives::B256;
    use alloy::sol_types::SolCall;
    use prova_core::bindings::IIdentityRegistry;

    use super::register_call;

    #[test]
    fn register_calldata_selects_the_overload() {
        let plain = register_call("ipfs://a", None);
        assert_eq!(plain[..4], IIdentityRegistry::register_1Call::SELECTOR);
        let bound = register_call("ipfs://a", Some(B256::repeat_byte(1)));
        assert_eq!(bound[..4], IIdentityRegistry::register_2Call::SELECTOR);
    }
}
