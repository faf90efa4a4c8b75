//! Distillation evidence end to end on anvil and Postgres (issue 18): a lab ingests answers (fingerprints on, half
//! of them with their texts kept) and anchors them; a suspect dataset holds near-copies of each edit kind among
//! unrelated records. The scan finds exactly the planted copies, each with the right kind, and writes an evidence
//! bundle that `prova verify evidence` verifies against the chain; a bundle with one altered receipt, or one altered
//! suspect text, fails with the reason.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use alloy::primitives::B256;
use prova_attestor::admin;
use prova_attestor::outputs::plant::{Edit, Zipf, answer, vocabulary};
use prova_attestor::publish::{PublishRequest, publish_model_version};
use prova_e2e::{Stack, copy_dir, stderr, stdout};
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};

/// Answers the lab attests; the first `KEPT` are ingested with --keep-text.
const ANSWERS: usize = 60;
const KEPT: usize = 30;

/// The planted copies: an edit, and the answer it copies.
fn planted_edits() -> Vec<(Edit, usize)> {
    vec![
        (Edit::Copy, 0),
        (Edit::Truncate(0.8), 1),
        (Edit::DropPrefix(0.1), 2),
        (Edit::DropSuffix(0.1), 3),
        (Edit::Rewrap(60), 4),
        (Edit::Markdown, 5),
        (Edit::Json, 6),
        (Edit::Substitute(0.05), 7),
        (Edit::Reorder, 8),
        // Copies of answers whose text the lab did not keep: found from the fingerprints alone.
        (Edit::Truncate(0.9), 40),
        (Edit::Markdown, 41),
    ]
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scan_bundle_verifies_and_altered_bundles_fail_with_the_reason() -> anyhow::Result<()> {
    let stack = Stack::start().await?;
    let dir = stack.dir.path();
    let db = stack.attestor_database_url.clone();
    let attestor = stack.anvil_key(3);
    let attestor_hex = attestor.to_bytes().to_string();
    admin::register_publisher(&stack.admin, stack.registry, "Acme AI", "").await?;
    admin::add_own_attestor(&stack.admin, stack.registry, stack.admin_key.address(), &attestor).await?;
    let version = B256::repeat_byte(0x18);
    let req = PublishRequest { commit: false, ..PublishRequest::new(version, "acme/llm") };
    publish_model_version(&stack.admin, stack.registry, &attestor, &req).await?;

    // The lab's answers, ingested (the first KEPT with their texts) and anchored.
    let mut rng = rand::rngs::StdRng::seed_from_u64(18);
    let words = vocabulary(20_000, &mut rng);
    let zipf = Zipf::new(words.len());
    let answers: Vec<String> = (0..ANSWERS).map(|_| answer(rng.gen_range(80..200), &words, &zipf, &mut rng)).collect();
    for (name, range, keep) in [("kept", 0..KEPT, true), ("hashed", KEPT..ANSWERS, false)] {
        let input = dir.join(format!("{name}.jsonl"));
        let mut file = std::fs::File::create(&input)?;
        for i in range {
            let record = json!({ "model_version": version, "request": format!("question {i}"), "response": answers[i],
                                 "timestamp": 1_700_000_000 + i as u64 });
            writeln!(file, "{record}")?;
        }
        drop(file);
        let mut args = vec!["outputs", "ingest", input.to_str().unwrap(), "--database-url", &db];
        if keep {
            args.push("--keep-text");
        }
        let out = stack.prova(&args, &[]);
        assert!(out.status.success(), "ingest: {}", stderr(&out));
    }
    let out = stack.prova(
        &["outputs", "publish", "--once", "--flush", "--database-url", &db],
        &[("PROVA_PRIVATE_KEY", &attestor_hex)],
    );
    assert!(out.status.success(), "publish: {}", stderr(&out));

    // The suspect dataset: each planted copy after 30 unrelated records.
    let dataset = dir.join("suspect.jsonl");
    let mut file = std::fs::File::create(&dataset)?;
    let mut planted = BTreeMap::new();
    let mut record = 0u64;
    for (edit, original) in planted_edits() {
        for _ in 0..30 {
            record += 1;
            writeln!(file, "{}", json!({ "response": answer(rng.gen_range(20..200), &words, &zipf, &mut rng) }))?;
        }
        record += 1;
        writeln!(file, "{}", json!({ "request": "?", "response": edit.apply(&answers[original], &mut rng, &words) }))?;
        planted.insert(record, (edit, original));
    }
    drop(file);

    let bundle = dir.join("bundle");
    let out = stack.prova(
        &[
            "outputs",
            "scan",
            dataset.to_str().unwrap(),
            "--json",
            "--evidence",
            bundle.to_str().unwrap(),
            "--database-url",
            &db,
        ],
        &[],
    );
    assert!(out.status.success(), "scan: {}", stderr(&out));
    let lines: Vec<Value> = stdout(&out).lines().map(serde_json::from_str).collect::<Result<_, _>>()?;
    let (summary, matches) = lines.split_last().unwrap();
    let got: BTreeMap<u64, String> =
        matches.iter().map(|m| (m["record"].as_u64().unwrap(), m["kind"].as_str().unwrap().to_owned())).collect();
    let expected: BTreeMap<u64, String> =
        planted.iter().map(|(r, (edit, _))| (*r, edit.expected_kind().to_string())).collect();
    assert_eq!(got, expected, "exactly the planted records, each with its kind; no unrelated record");
    assert_eq!(summary["summary"]["near"].as_u64(), Some(planted.len() as u64 - 2));
    assert!(summary["summary"]["log10_p_value_of_count"].as_f64().unwrap() < -10.0, "{summary}");
    assert!(matches.iter().all(|m| m["receipt"].is_object()), "every match has a receipt");

    // The bundle verifies against the chain alone, every similarity recomputed where the texts are included.
    let evidence: Value = serde_json::from_str(&std::fs::read_to_string(bundle.join("evidence.json"))?)?;
    assert_eq!(evidence["matches"].as_array().unwrap().len(), planted.len());
    assert_eq!(evidence["publisher"], json!(stack.admin_key.address()));
    let html = std::fs::read_to_string(bundle.join("index.html"))?;
    assert!(html.contains("<svg") && html.contains("<del>") && html.contains("paraphrase"), "the report");
    let out = stack.prova(&["verify", "evidence", bundle.to_str().unwrap()], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("VERIFIED: all {} matches", planted.len())), "{text}");
    assert!(text.contains("2 similarities could not be recomputed"), "{text}");

    // One altered receipt (its leaf's timestamp moved by a second): its proof no longer reaches the root.
    let (near, _) = planted.iter().find(|(_, (edit, original))| *edit == Edit::Reorder && *original < KEPT).unwrap();
    let altered = dir.join("altered-receipt");
    copy_dir(&bundle, &altered);
    edit_json(&altered.join(format!("receipts/record-{near}.json")), |receipt| {
        let t = receipt["leaf"]["timestamp"].as_u64().unwrap();
        receipt["leaf"]["timestamp"] = json!(t + 1);
    })?;
    let out = stack.prova(&["verify", "evidence", altered.to_str().unwrap()], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("record {near}")) && text.contains("Merkle proof does not link"), "{text}");
    assert!(text.contains("NOT VERIFIED: 1 of"), "{text}");

    // One altered suspect text: it is not the text the bundle recorded...
    let suspect = format!("texts/record-{near}.suspect.txt");
    let altered = dir.join("altered-text");
    copy_dir(&bundle, &altered);
    let original = std::fs::read_to_string(altered.join(&suspect))?;
    let changed: String = original.split(' ').take(40).collect::<Vec<_>>().join(" ");
    std::fs::write(altered.join(&suspect), &changed)?;
    let out = stack.prova(&["verify", "evidence", altered.to_str().unwrap()], &[]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}{}", stderr(&out));
    assert!(text.contains(&format!("record {near}")) && text.contains("is not the record's text"), "{text}");
    // ... and when its recorded hash is altered with it, the recomputed similarity gives it away.
    edit_json(&altered.join("evidence.json"), |bundle| {
        for m in bundle["matches"].as_array_mut().unwrap() {
            if m["record"] == json!(near) {
                m["suspect_text_hash"] = json!(alloy::primitives::keccak256(changed.as_bytes()));
            }
        }
    })?;
    let out = stack.prova(&["verify", "evidence", altered.to_str().unwrap(), "--json"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let verdict: Value = serde_json::from_str(&stdout(&out))?;
    let reason = verdict["matches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["record"] == json!(near))
        .map(|m| m["reason"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(reason.contains("recomputed similarity"), "{reason}");

    // Without a reachable chain nothing is checked: exit 2.
    let out = stack.prova(&["verify", "evidence", bundle.to_str().unwrap(), "--rpc", "http://127.0.0.1:1"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    Ok(())
}

/// Rewrites a JSON file through `change`.
fn edit_json(path: &Path, change: impl FnOnce(&mut Value)) -> anyhow::Result<()> {
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(path)?)?;
    change(&mut value);
    std::fs::write(path, serde_json::to_string_pretty(&value)?)?;
    Ok(())
}
