#!/usr/bin/env python3
"""Regenerate the sigstore model_signing interop fixture.

Writes, under core/tests/fixtures/model-signing/:
  model/           a small deterministic model folder (same bytes on every run)
  model.sig        a sigstore bundle made by the real `model_signing sign key`
                   (model-signing 1.1.1, default hashing settings) with a
                   throwaway ECDSA P-256 key generated for this run
  statement.json   the in-toto statement from the bundle's DSSE payload,
                   base64-decoded and pretty-printed (sorted keys, 2 spaces)

The folder contents, and so statement.json, are identical on every run; the
signature in model.sig differs per run (fresh key, randomized ECDSA).

Needs the venv with model-signing: python3 -m venv .venv-bench &&
.venv-bench/bin/pip install model-signing==1.1.1 pyopenssl (1.1.1 imports
pyOpenSSL without declaring it as a dependency). Run from anywhere:
  .venv-bench/bin/python scripts/model-signing-fixture.py
(plain python3 works too: the script re-runs itself with the venv's python).
"""

import base64
import hashlib
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
VENV = pathlib.Path(os.environ.get("VENV", ROOT / ".venv-bench"))
OUT = ROOT / "core" / "tests" / "fixtures" / "model-signing"
MODEL = OUT / "model"
SIG = OUT / "model.sig"
STATEMENT = OUT / "statement.json"


def venv_bin(name: str) -> pathlib.Path:
    return VENV / "bin" / name


def ensure_venv_python() -> None:
    try:
        import model_signing  # noqa: F401
        import cryptography  # noqa: F401
    except ImportError as err:
        py = venv_bin("python")
        if not py.exists() or os.environ.get("_FIXTURE_REEXEC"):
            # model-signing 1.1.1 imports OpenSSL (pyOpenSSL) without declaring it.
            sys.exit(
                f"cannot import model_signing ({err}); set up the venv with:\n"
                f"  python3 -m venv {VENV} && {VENV}/bin/pip install model-signing==1.1.1 pyopenssl"
            )
        env = dict(os.environ, _FIXTURE_REEXEC="1")
        os.execve(str(py), [str(py), __file__, *sys.argv[1:]], env)


def det_bytes(label: str, n: int) -> bytes:
    """n deterministic pseudo-random bytes: SHA-256(label || counter_be64) blocks."""
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(label.encode() + counter.to_bytes(8, "big")).digest()
        counter += 1
    return bytes(out[:n])


# Paths chosen so that the resource order is non-trivial:
#  - "README.md" sorts before "config.json" (code-point order, uppercase first);
#  - "weights/part-00001.bin" sorts before "weights.index.json" because
#    model_signing orders by path components ("weights" < "weights.index.json"),
#    whereas a plain string sort would put "weights.index.json" first ('.' < '/').
#  - "empty.txt" is a zero-length file (model_signing hashes it like any file).
def model_files() -> dict[str, bytes]:
    config = {
        "architectures": ["ProvaTinyForCausalLM"],
        "hidden_size": 64,
        "model_type": "prova-tiny",
        "num_attention_heads": 4,
        "num_hidden_layers": 2,
        "vocab_size": 256,
    }
    tokenizer = {
        "model": {"type": "BPE", "vocab": {chr(c): c for c in range(97, 123)}, "merges": []},
        "version": "1.0",
    }
    index = {
        "metadata": {"total_size": 102400},
        "weight_map": {"layers.0.weight": "weights/part-00001.bin"},
    }

    def js(obj) -> bytes:
        return (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode()

    return {
        "README.md": b"# prova-tiny\n\nDeterministic test model for model_signing interop.\n",
        "config.json": js(config),
        "tokenizer.json": js(tokenizer),
        "empty.txt": b"",
        "weights.index.json": js(index),
        "weights/part-00001.bin": det_bytes("prova/model-signing-fixture/part-00001", 100 * 1024),
    }


def write_model() -> None:
    if MODEL.exists():
        shutil.rmtree(MODEL)
    for rel, data in model_files().items():
        p = MODEL / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)


def run(cmd: list[str]) -> None:
    # PYTHONHASHSEED pins the iteration order of model_signing's ignore-path
    # frozenset, so predicate.serialization.ignore_paths comes out in the same
    # order on every run (it is otherwise hash-randomized per process).
    env = dict(os.environ, PYTHONHASHSEED="0")
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def main() -> None:
    ensure_venv_python()
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    OUT.mkdir(parents=True, exist_ok=True)
    write_model()

    cli = str(venv_bin("model_signing"))
    with tempfile.TemporaryDirectory(prefix="prova-ms-fixture-") as tmp:
        key = ec.generate_private_key(ec.SECP256R1())
        priv = pathlib.Path(tmp, "key.pem")
        pub = pathlib.Path(tmp, "key.pub")
        priv.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        pub.write_bytes(
            key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )

        # The signature is written next to (not inside) the model folder, so it
        # is never part of what gets hashed. Default hashing settings: no
        # --ignore-paths, git paths ignored (default), no --allow_symlinks.
        run([cli, "sign", "key", str(MODEL), "--private_key", str(priv), "--signature", str(SIG)])
        run([cli, "verify", "key", str(MODEL), "--signature", str(SIG), "--public_key", str(pub)])

    bundle = json.loads(SIG.read_text())
    envelope = bundle["dsseEnvelope"]
    payload = base64.b64decode(envelope["payload"])
    assert envelope["payloadType"] == "application/vnd.in-toto+json", envelope["payloadType"]
    statement = json.loads(payload)
    STATEMENT.write_text(json.dumps(statement, indent=2, sort_keys=True) + "\n")

    # Self-check: recompute what prova must reproduce.
    files = model_files()
    resources = statement["predicate"]["resources"]
    names = [r["name"] for r in resources]
    expected_order = sorted(files, key=lambda p: p.split("/"))
    assert names == expected_order, (names, expected_order)
    for r in resources:
        assert r["algorithm"] == "sha256"
        assert r["digest"] == hashlib.sha256(files[r["name"]]).hexdigest(), r["name"]
    root = hashlib.sha256(b"".join(bytes.fromhex(r["digest"]) for r in resources)).hexdigest()
    assert statement["subject"][0]["digest"]["sha256"] == root
    print(f"wrote {MODEL}/ ({len(files)} files), {SIG}, {STATEMENT}")
    print(f"subject {statement['subject'][0]['name']} sha256:{root}")


if __name__ == "__main__":
    main()
