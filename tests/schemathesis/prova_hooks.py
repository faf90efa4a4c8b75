"""Teaches schemathesis the rules of prova's API that JSON Schema cannot state, so that the positive checks see
only requests the API must accept. Each rule below is also enforced by the API with a 400 that names it, and tested
there (api/src/routes/strict.rs, api/src/routes/agents/tests.rs); negative cases are left untouched.

Loaded with SCHEMATHESIS_HOOKS=prova_hooks (tests/e2e/api_fuzz.rs puts this folder on PYTHONPATH).
"""

import schemathesis
from schemathesis.generation import GenerationMode

# GET /v1/agents sorts by registration unless sort=reputation; a score parameter on that order is refused.
SCORE_PARAMETERS = {
    "algorithm", "tag1", "tag2", "clients", "verified_only", "seeds", "prior_mean", "prior_weight",
    "half_life_secs", "now", "alpha", "tolerance", "max_iterations", "reputation_registry", "min_confirmations",
}
MANIFEST_BODIES = {"PUT /v1/model-versions/{version_hash}/manifest", "POST /v1/model-versions/match"}


def _integral(value):
    """JSON Schema counts 721.0 as an integer; serde (and so the API) takes integers written without a fraction."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {key: _integral(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_integral(item) for item in value]
    return value


def _positive(case) -> bool:
    meta = case.meta
    return meta is None or meta.generation.mode == GenerationMode.POSITIVE


@schemathesis.hook
def map_case(context, case):
    if not _positive(case):
        return case
    label = case.operation.label
    query = case.query
    if query:
        # A cursor is opaque: only a `next_cursor` the API handed out is one, and no generator can make one.
        query.pop("cursor", None)
        if label == "GET /v1/agents" and query.get("sort") != "reputation":
            for name in SCORE_PARAMETERS:
                query.pop(name, None)
    if isinstance(case.body, (dict, list)):
        case.body = _integral(case.body)
    body = case.body
    if label == "POST /v1/outputs/verify" and isinstance(body, dict):
        # The request and the response are each given as text or as hex, not both.
        for field in ("request", "response"):
            if field in body and f"{field}_hex" in body:
                del body[f"{field}_hex"]
    if label in MANIFEST_BODIES and isinstance(body, dict):
        # Paths must be distinct normal relative paths; the schema says "string".
        files = body.get("files")
        if isinstance(files, list):
            for i, entry in enumerate(files):
                if isinstance(entry, dict) and "path" in entry:
                    entry["path"] = f"file-{i}.bin"
    return case
