//! Several RPC endpoints asked the same question. A verification run against each endpoint must give the same
//! verdict: if one differs, some endpoint lies or lags, and nothing is verified ("could not check", never a
//! verdict either way).

use std::collections::BTreeSet;

use serde_json::Value;

use crate::error::{Error, Result};
use crate::reputation::flatten;

/// Fields named in a disagreement, at most (the rest are counted).
const FIELDS_SHOWN: usize = 8;

/// Checks that every endpoint's verdict (as JSON, keyed by the endpoint as it may be shown: see
/// `prova_chain::redact_url`) equals the first's; otherwise [`Error::Disagree`] names the first endpoint that
/// differs and the fields (`exact.claims[0].revoked_at`) that do.
pub fn agree(verdicts: &[(String, Value)]) -> Result<()> {
    let Some((first, expected)) = verdicts.first() else { return Ok(()) };
    for (endpoint, verdict) in &verdicts[1..] {
        if verdict == expected {
            continue;
        }
        let (a, b) = (flatten(expected), flatten(verdict));
        let paths: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        let differing: Vec<String> = paths
            .into_iter()
            .filter(|p| a.get(*p) != b.get(*p))
            .map(|p| {
                let shown = |side: Option<&String>| side.map_or("(absent)".to_owned(), Clone::clone);
                format!("{} ({} vs {})", if p.is_empty() { "the verdict" } else { p }, shown(a.get(p)), shown(b.get(p)))
            })
            .collect();
        let mut fields = differing.iter().take(FIELDS_SHOWN).cloned().collect::<Vec<_>>().join(", ");
        if differing.len() > FIELDS_SHOWN {
            fields.push_str(&format!(" and {} more", differing.len() - FIELDS_SHOWN));
        }
        return Err(Error::Disagree { first: first.clone(), other: endpoint.clone(), fields });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn identical_verdicts_agree_and_a_differing_one_names_its_endpoint_and_fields() {
        let honest = json!({"verified": true, "exact": {"claims": [{"revoked_at": 0, "name": "Acme"}]}});
        let lying = json!({"verified": false, "exact": {"claims": [{"revoked_at": 7, "name": "Acme"}]}});
        let a = ("http://a:8545".to_owned(), honest.clone());
        let b = ("http://b:8545/<redacted>".to_owned(), honest.clone());
        let c = ("http://c:8545".to_owned(), lying);
        assert!(agree(&[a.clone(), b.clone()]).is_ok());
        assert!(agree(std::slice::from_ref(&a)).is_ok() && agree(&[]).is_ok());
        let error = agree(&[a, b, c]).unwrap_err().to_string();
        assert!(error.starts_with("could not check: endpoints disagree"), "{error}");
        assert!(error.contains("http://a:8545") && error.contains("http://c:8545"), "{error}");
        assert!(error.contains("exact.claims[0].revoked_at (0 vs 7)") && error.contains("verified"), "{error}");
        assert!(!error.contains("name"), "{error}");
    }
}
