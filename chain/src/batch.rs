//! Many JSON-RPC calls of one method in batch requests.

use alloy::providers::{DynProvider, Provider};
use alloy::rpc::client::BatchRequest;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::revert::rpc_error;

/// JSON-RPC calls per batch request.
pub const BATCH_CALLS: usize = 200;

/// Calls `method` once per element of `params` in one JSON-RPC batch request; the results in order.
pub async fn rpc_batch<P: Serialize, R: serde::de::DeserializeOwned>(
    provider: &DynProvider,
    method: &'static str,
    params: Vec<P>,
) -> Result<Vec<R>> {
    let mut results = Vec::with_capacity(params.len());
    for chunk in params.chunks(BATCH_CALLS) {
        let mut batch = BatchRequest::new(provider.client());
        let mut waiters = Vec::with_capacity(chunk.len());
        for p in chunk {
            let p = serde_json::to_value(p).map_err(|e| Error::Missing(format!("{method} parameters: {e}")))?;
            let waiter = batch.add_call::<serde_json::Value, serde_json::Value>(method, &p);
            waiters.push(waiter.map_err(|source| Error::Rpc { what: method.into(), source })?);
        }
        batch.send().await.map_err(|source| Error::Rpc { what: format!("{method} batch"), source })?;
        for waiter in waiters {
            let value = waiter.await.map_err(|e| rpc_error(method, e))?;
            results.push(
                serde_json::from_value(value).map_err(|e| Error::Missing(format!("{method} answered oddly: {e}")))?,
            );
        }
    }
    Ok(results)
}
