#!/usr/bin/env bash
# Model-hashing benchmark: prova against its limit, min(reading alone, SHA-256 compute bound of the
# cores), and against sigstore model_signing, with a warm and a cold page cache, plus prova's
# incremental (--cache) re-hash. Every figure, limits and peer included, comes from the same run.
#
# Usage: scripts/bench-hash.sh        (from anywhere; paths are relative to the repo root)
# Environment:
#   BENCH_DIR  work folder                         (default /var/tmp/prova-bench)
#   FILES      files in the main test model        (default 4)
#   SIZE_GB    size of each of those files, GiB    (default 1)
#   INCR_GB    incremental test: INCR_GB files of 1 GiB each (default 10)
#   RUNS       timed runs per measurement          (default 3)
#   PROVA      prova binary                        (default target/release/prova; built if missing)
#   VENV       venv with model-signing==1.1.1      (default .venv-bench; created with pip if missing)
#   SKIP_MS=1  skip model_signing;  SKIP_INCR=1 skip the incremental test
#   SHA256SUM=1  also time the old reference, coreutils sha256sum one process per core (slow)
#   USE_HYPERFINE=0  time with bash instead of hyperfine (hyperfine is installed with apt-get if missing)
#
# Test data is pseudo-random (AES-CTR keystream via openssl, else /dev/urandom), created once
# and reused. Cold runs evict the files from the page cache before every run with
# scripts/drop-cache.py (drop_caches if permitted, else posix_fadvise DONTNEED); warm runs read
# them into the cache before every run (prova's direct reads of uncached data leave the cache
# as it was, so its own warm-up run would not warm it). Each warm measurement starts from the
# files evicted and read back once, so that the cache holds them as it holds a file read from
# disk (large folios), whatever happened to them before: files just written in small pieces sit
# in small folios, which cost every tool about 0.08 CPU s per GiB more to map or copy
# (BENCHMARKS.md), and which state a run met used to depend on the runs before it.
#
# Limits, measured in the run: reading alone (dd, one per core; cold: the faster of buffered
# and O_DIRECT reads) and the SHA-256 compute bound (openssl speed sha256 on 1 MiB blocks x
# cores, measured before and after the timings, mean of the two). limit = min of the two.
# Raw hyperfine JSON goes to $BENCH_DIR/results/. Times are wall-clock means; 1 GB = 10^9 bytes.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

BENCH_DIR=${BENCH_DIR:-/var/tmp/prova-bench}
FILES=${FILES:-4}
SIZE_GB=${SIZE_GB:-1}
INCR_GB=${INCR_GB:-10}
RUNS=${RUNS:-3}
PROVA=${PROVA:-target/release/prova}
VENV=${VENV:-$ROOT/.venv-bench}
SKIP_MS=${SKIP_MS:-0}
SKIP_INCR=${SKIP_INCR:-0}
SHA256SUM=${SHA256SUM:-0}

MODEL="$BENCH_DIR/model"
INCR="$BENCH_DIR/incr"
RESULTS="$BENCH_DIR/results"
DROP="python3 $ROOT/scripts/drop-cache.py"
GIB=1073741824
NPROC=$(nproc)

log() { printf '== %s\n' "$*" >&2; }

# ---------------------------------------------------------------- tools
if [[ ! -x "$PROVA" ]]; then
    log "building $PROVA (cargo build --release -p prova-cli)"
    cargo build --release -p prova-cli
fi
PROVA=$(cd "$(dirname "$PROVA")" && pwd)/$(basename "$PROVA")

if [[ ${USE_HYPERFINE:-1} != 0 ]] && ! command -v hyperfine >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        log "installing hyperfine"
        apt-get install -y hyperfine >/dev/null 2>&1 ||
            { apt-get update && apt-get install -y hyperfine; } >/dev/null 2>&1 || true
    fi
fi
HAVE_HYPERFINE=0
[[ ${USE_HYPERFINE:-1} != 0 ]] && command -v hyperfine >/dev/null && HAVE_HYPERFINE=1

HAVE_MS=0
if [[ $SKIP_MS != 1 ]]; then
    if ! [[ -x "$VENV/bin/python" ]] || ! "$VENV/bin/python" -c 'import model_signing.hashing' 2>/dev/null; then
        log "installing model-signing==1.1.1 in $VENV"
        { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q model-signing==1.1.1 pyopenssl; } >&2 || true
    fi
    if [[ -x "$VENV/bin/python" ]] && "$VENV/bin/python" -c 'import model_signing.hashing' 2>/dev/null; then
        HAVE_MS=1
    else
        log "model_signing not importable from $VENV; skipping it" \
            "(python3 -m venv $VENV && $VENV/bin/pip install model-signing==1.1.1 pyopenssl)"
    fi
fi

HASH_HELP=$("$PROVA" model hash --help 2>&1 || true)
HAVE_CACHE=0
if grep -q -- '--no-cache' <<<"$HASH_HELP" && grep -q -- '--cache' <<<"$HASH_HELP"; then
    HAVE_CACHE=1
    PROVA_FULL="$PROVA model hash %s --no-cache"
else
    log "prova model hash has no --cache/--no-cache yet: timing 'prova model hash DIR' and skipping the incremental test"
    PROVA_FULL="$PROVA model hash %s"
fi

# ---------------------------------------------------------------- data
# make_file PATH BYTES: pseudo-random bytes, fast.
make_file() {
    local path=$1 bytes=$2
    if command -v openssl >/dev/null; then
        head -c "$bytes" /dev/zero |
            openssl enc -aes-128-ctr -nosalt -pass "pass:prova-bench-$(basename "$path")" -pbkdf2 2>/dev/null |
            head -c "$bytes" >"$path.tmp"
    else
        head -c "$bytes" /dev/urandom >"$path.tmp"
    fi
    mv "$path.tmp" "$path"
}

# make_set DIR COUNT BYTES: DIR holds exactly shard-00001.bin .. shard-COUNT.bin of BYTES each.
make_set() {
    local dir=$1 count=$2 bytes=$3 i f
    mkdir -p "$dir"
    for ((i = 1; i <= count; i++)); do
        f=$(printf '%s/shard-%05d.bin' "$dir" "$i")
        if [[ ! -f $f || $(stat -c %s "$f") != "$bytes" ]]; then
            log "creating $f ($bytes bytes)"
            make_file "$f" "$bytes"
        fi
    done
    # Remove files beyond COUNT (left by an earlier run with other settings) and anything else.
    find "$dir" -mindepth 1 -maxdepth 1 ! -name 'shard-*.bin' -exec rm -rf {} +
    for f in "$dir"/shard-*.bin; do
        i=$(basename "$f" .bin); i=$((10#${i#shard-}))
        ((i <= count)) || rm -f "$f"
    done
}

MODEL_BYTES=$((FILES * SIZE_GB * GIB))
INCR_BYTES=$((INCR_GB * GIB))
make_set "$MODEL" "$FILES" $((SIZE_GB * GIB))
((HAVE_CACHE && SKIP_INCR != 1)) && make_set "$INCR" "$INCR_GB" "$GIB"
mkdir -p "$RESULTS"
sync

# ---------------------------------------------------------------- timing
# bench NAME MODE CMD [PREPARE]: MODE is warm (one untimed run first, and DIR read into the page
# cache before every run) or cold (DIR evicted before every run). Prints the mean wall time in
# seconds on stdout; the standard deviation goes to $RESULTS/NAME.sd and the mean CPU time (user +
# system, all threads and children) to $RESULTS/NAME.cpu.
bench() {
    local name=$1 mode=$2 cmd=$3 prepare=${4:-} json="$RESULTS/$1.json"
    local dir
    dir=$( [[ $name == incr* ]] && echo "$INCR" || echo "$MODEL")
    if [[ $mode == cold ]]; then
        prepare="${prepare:+$prepare; }$DROP $dir"
    else
        prepare="${prepare:+$prepare; }find $dir -type f -exec cat {} + > /dev/null"
        $DROP "$dir" && find "$dir" -type f -exec cat {} + >/dev/null
    fi
    log "$name: $cmd"
    if ((HAVE_HYPERFINE)); then
        local args=(--runs "$RUNS" --export-json "$json" --style basic -n "$name")
        [[ $mode == warm ]] && args+=(--warmup 1)
        [[ -n $prepare ]] && args+=(--prepare "$prepare")
        hyperfine "${args[@]}" "$cmd" >&2
        python3 -c 'import json,sys; r = json.load(open(sys.argv[1]))["results"][0]; print(r["mean"]); open(sys.argv[2], "w").write(str(r["stddev"] or 0)); open(sys.argv[3], "w").write(str(r["user"] + r["system"]))' "$json" "$RESULTS/$name.sd" "$RESULTS/$name.cpu"
    else
        [[ $mode == warm ]] && bash -c "$cmd" >/dev/null 2>&1
        local total=0 t0 t1 r
        for ((r = 0; r < RUNS; r++)); do
            [[ -n $prepare ]] && bash -c "$prepare"
            t0=$(date +%s.%N)
            bash -c "$cmd" >/dev/null 2>&1
            t1=$(date +%s.%N)
            total=$(python3 -c "print($total + $t1 - $t0)")
        done
        echo 0 >"$RESULTS/$name.sd"
        echo 0 >"$RESULTS/$name.cpu"
        python3 -c "print($total / $RUNS)"
    fi
}

gbps() { python3 -c "print(f'{$1 / $2 / 1e9:.2f}')"; }
fmt() { python3 -c "print(f'{$1:.2f}')"; }
ratio() { python3 -c "print(f'{$1 / $2:.3f}')"; }

# The old reference (coreutils sha256sum has no SHA extensions: far below the cores; SHA256SUM=1).
SHA256SUM_CMD="ls $MODEL/* | xargs -P $NPROC -n 1 sha256sum > /dev/null"
# Reading alone, one dd per core: through the page cache, and (cold only) with O_DIRECT.
READ_CMD="ls $MODEL/* | xargs -P $NPROC -I{} dd if={} of=/dev/null bs=1M status=none"
READ_DIRECT_CMD="ls $MODEL/* | xargs -P $NPROC -I{} dd if={} of=/dev/null bs=4M iflag=direct status=none"
# shellcheck disable=SC2059
PROVA_CMD="$(printf "$PROVA_FULL" "$MODEL") > /dev/null"
# model_signing with its default hashing config (per-file SHA-256, thread pool), via its public
# API; no signing. Python start-up and imports are included in the time (measured separately).
MS_CMD="$VENV/bin/python -c 'import sys, model_signing.hashing as h; h.hash(sys.argv[1])' $MODEL"
MS_IMPORT_CMD="$VENV/bin/python -c 'import model_signing.hashing'"

# SHA-256 compute bound: OpenSSL's per-core speed (SHA-NI where present) on 1 MiB blocks, times the
# cores. Measured before and after the timings (other load on the machine moves it); the mean is used.
sha_bound() {
    command -v openssl >/dev/null || return 0
    local per_core
    per_core=$(openssl speed -mr -evp sha256 -bytes 1048576 -seconds 3 2>/dev/null | awk -F: '/^\+F:/{print $4}')
    [[ -n $per_core ]] && python3 -c "print($per_core * $NPROC)"
}
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
log "openssl speed sha256 (before)"
SHA_BOUND_1=$(sha_bound)

declare -A T
for mode in warm cold; do
    if [[ $SHA256SUM == 1 ]]; then
        T[sha256sum_$mode]=$(bench "sha256sum-$mode" "$mode" "$SHA256SUM_CMD")
    fi
    T[read_$mode]=$(bench "read-only-$mode" "$mode" "$READ_CMD")
    [[ $mode == cold ]] && T[read_direct_cold]=$(bench "read-only-direct-cold" cold "$READ_DIRECT_CMD")
    T[prova_$mode]=$(bench "prova-$mode" "$mode" "$PROVA_CMD")
    if ((HAVE_MS)); then
        T[ms_$mode]=$(bench "model_signing-$mode" "$mode" "$MS_CMD")
    fi
done
((HAVE_MS)) && T[ms_import]=$(bench "model_signing-import" warm "$MS_IMPORT_CMD")
log "openssl speed sha256 (after)"
SHA_BOUND_2=$(sha_bound)
SHA_BOUND=$(python3 -c "v = [x for x in '$SHA_BOUND_1 $SHA_BOUND_2'.split()]; print(sum(map(float, v)) / len(v) if v else '')")
# Reading alone: the faster way to read (cold: buffered or direct).
T[read_best_warm]=${T[read_warm]}
T[read_best_cold]=$(python3 -c "print(min(${T[read_cold]}, ${T[read_direct_cold]}))")

DO_INCR=0
if ((HAVE_CACHE)) && [[ $SKIP_INCR != 1 ]]; then
    DO_INCR=1
    # Change one file: overwrite its first MiB with fresh random bytes (same size, new mtime).
    TOUCH="dd if=/dev/urandom of=$INCR/shard-00001.bin bs=1M count=1 conv=notrunc status=none"
    # The common edit: a small file (config, tokenizer, README) next to big untouched shards.
    echo '{"edit":0}' > "$INCR/config.json"
    TOUCH_SMALL="echo \"{\\\"edit\\\":\$RANDOM\$RANDOM}\" > $INCR/config.json"
    for mode in warm cold; do
        T[incr_full_$mode]=$(bench "incr-full-$mode" "$mode" "$PROVA model hash $INCR --no-cache > /dev/null")
        log "filling the cache: $PROVA model hash $INCR --cache"
        "$PROVA" model hash "$INCR" --cache >/dev/null
        # Every timed run re-hashes after a fresh one-file change (the prepare step).
        T[incr_$mode]=$(bench "incr-cached-$mode" "$mode" "$PROVA model hash $INCR --cache > /dev/null" "$TOUCH")
        T[incr_small_$mode]=$(bench "incr-small-$mode" "$mode" "$PROVA model hash $INCR --cache > /dev/null" "$TOUCH_SMALL")
    done
fi

# ---------------------------------------------------------------- summary
CPU=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
SHANI=$(grep -q -w sha_ni /proc/cpuinfo && echo yes || echo no)
echo
echo "## Hashing benchmark ($(date -u +%Y-%m-%d))"
echo
echo "Machine: $CPU, $NPROC cores, SHA-NI: $SHANI, $(free -g | awk '/Mem:/{print $2}') GiB RAM. Timer: $( ((HAVE_HYPERFINE)) && hyperfine --version || echo 'bash date') , mean of $RUNS runs."
echo "Load average (1/5/15 min) before the timings: $LOAD_BEFORE; after: $(cut -d' ' -f1-3 /proc/loadavg) ($NPROC cores; other work on the machine slows every row alike)."
echo "Model: $FILES x $SIZE_GB GiB = $(python3 -c "print(f'{$MODEL_BYTES/1e9:.2f}')") GB in $MODEL. Cold = page cache dropped before each run."
echo "prova: $(printf "$PROVA_FULL" DIR)"
echo
sd() { fmt "$(cat "$RESULTS/$1.sd" 2>/dev/null || echo 0)"; }
cpu() { fmt "$(cat "$RESULTS/$1.cpu" 2>/dev/null || echo 0)"; }
row() { # row LABEL MODE KEY NAME
    echo "| $1 | $2 | $(fmt "${T[$3]}") ± $(sd "$4") | $(gbps $MODEL_BYTES "${T[$3]}") | $(cpu "$4") |"
}
echo "| what | cache | mean s ± sd | GB/s | CPU s |"
echo "|---|---|---|---|---|"
for mode in warm cold; do
    row "prova model hash" "$mode" "prova_$mode" "prova-$mode"
    ((HAVE_MS)) && row "model_signing 1.1.1 hashing.hash (default: files, sha256)" "$mode" "ms_$mode" "model_signing-$mode"
    row "limit: reading alone (dd bs=1M), $NPROC in parallel" "$mode" "read_$mode" "read-only-$mode"
    [[ $mode == cold ]] && row "limit: reading alone, O_DIRECT (dd bs=4M iflag=direct), $NPROC in parallel" cold read_direct_cold read-only-direct-cold
    [[ $SHA256SUM == 1 ]] && row "old reference: sha256sum, $NPROC in parallel" "$mode" "sha256sum_$mode" "sha256sum-$mode"
done
((HAVE_MS)) && echo "| model_signing: python start-up + import only | warm | $(fmt "${T[ms_import]}") | | $(cpu model_signing-import) |"
[[ -n $SHA_BOUND ]] && echo "| limit: SHA-256 compute bound, $NPROC x openssl speed sha256 (1 MiB; before / after) | - | - | $(gbps "$SHA_BOUND" 1) ($(gbps "$SHA_BOUND_1" 1) / $(gbps "${SHA_BOUND_2:-$SHA_BOUND_1}" 1)) | $(python3 -c "print(f'{$MODEL_BYTES * $NPROC / $SHA_BOUND:.2f}')") |"
if ((DO_INCR)); then
    for mode in warm cold; do
        echo "| incr folder ${INCR_GB} GiB, prova --no-cache (full) | $mode | $(fmt "${T[incr_full_$mode]}") | $(gbps $INCR_BYTES "${T[incr_full_$mode]}") | |"
        echo "| incr folder ${INCR_GB} GiB, prova --cache after a 1 GiB shard changed | $mode | $(fmt "${T[incr_$mode]}") | | |"
        echo "| incr folder ${INCR_GB} GiB, prova --cache after config.json changed | $mode | $(fmt "${T[incr_small_$mode]}") | | |"
    done
fi
# limit_MODE in bytes/s: min(reading alone, compute bound).
declare -A LIMIT
for mode in warm cold; do
    LIMIT[$mode]=$(python3 -c "print(min($MODEL_BYTES / ${T[read_best_$mode]}, ${SHA_BOUND:-float('inf')}))")
done
# share MODE KEY: throughput of KEY over the limit.
share() { python3 -c "print(f'{$MODEL_BYTES / ${T[$2]} / ${LIMIT[$1]}:.2f}')"; }
verdict() { python3 -c "print('met' if $1 >= $2 else 'not met')"; }
echo
echo "limit = min(reading alone, SHA-256 compute bound): warm $(gbps "${LIMIT[warm]}" 1) GB/s, cold $(gbps "${LIMIT[cold]}" 1) GB/s"
echo
echo "| ratio | warm | cold | target |"
echo "|---|---|---|---|"
pw=$(share warm prova_warm) pc=$(share cold prova_cold)
echo "| prova throughput / limit | $pw | $pc | >= 0.9 warm: $(verdict "$pw" 0.9), >= 0.8 cold: $(verdict "$pc" 0.8) |"
if ((HAVE_MS)); then
    echo "| model_signing throughput / limit | $(share warm ms_warm) | $(share cold ms_cold) | - |"
    sw=$(ratio "${T[ms_warm]}" "${T[prova_warm]}") sc=$(ratio "${T[ms_cold]}" "${T[prova_cold]}")
    echo "| prova speed-up over model_signing | ${sw}x | ${sc}x | >= 1.5x: warm $(verdict "$sw" 1.5), cold $(verdict "$sc" 1.5) |"
fi
# CPU time the compute bound needs for the model over the CPU time a tool used: how close to the bound it
# would run on idle cores, whatever else the machine was doing.
if [[ -n $SHA_BOUND ]]; then
    eff() { python3 -c "c = float(open('$RESULTS/$1.cpu').read()); print(f'{$MODEL_BYTES * $NPROC / $SHA_BOUND / c:.2f}' if c else '-')"; }
    echo "| CPU time at the compute bound / prova's CPU time | $(eff prova-warm) | $(eff prova-cold) | - |"
    ((HAVE_MS)) && echo "| CPU time at the compute bound / model_signing's CPU time | $(eff model_signing-warm) | $(eff model_signing-cold) | - |"
fi
[[ $SHA256SUM == 1 ]] && echo "| prova throughput / sha256sum throughput | $(ratio "${T[sha256sum_warm]}" "${T[prova_warm]}") | $(ratio "${T[sha256sum_cold]}" "${T[prova_cold]}") | - |"
((DO_INCR)) && echo "| incremental (1 GiB shard changed) time / full time | $(ratio "${T[incr_warm]}" "${T[incr_full_warm]}") | $(ratio "${T[incr_cold]}" "${T[incr_full_cold]}") | - |"
((DO_INCR)) && echo "| incremental (config.json changed) time / full time | $(ratio "${T[incr_small_warm]}" "${T[incr_full_warm]}") | $(ratio "${T[incr_small_cold]}" "${T[incr_full_cold]}") | < 0.05 |"
if ((DO_INCR)); then
    echo
    echo "Incremental: $INCR_GB files of 1 GiB; before each cached run the first MiB of one file is overwritten."
    echo "The changed file is re-hashed whole (one core), while a full hash spreads files over $NPROC cores, so the"
    echo "expected ratio is about 1/ceil($INCR_GB/$NPROC) = $(python3 -c "import math; print(f'{1/math.ceil($INCR_GB/$NPROC):.2f}')"); use INCR_GB >> cores (default 10) for a meaningful figure."
fi
((DO_INCR)) || echo "(incremental test skipped: $( ((HAVE_CACHE)) && echo SKIP_INCR=1 || echo 'prova model hash has no --cache/--no-cache'))"
exit 0
