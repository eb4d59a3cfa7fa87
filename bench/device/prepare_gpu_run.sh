#!/usr/bin/env bash
# Builds, on a machine without a GPU, everything issue 19's GPU run needs, into one folder that can be
# carried to the GPU machine (<= 40 MiB): the example's GPU test binary and release binary with
# kernels for sm_80, sm_90, sm_120 + compute_120 PTX, the same fatbins as a `pipeline cuda` output
# directory (with its manifest for `pipeline gpu smoke`), cuobjdump, and the load-time probe.
#
#   bash bench/device/prepare_gpu_run.sh [OUT_DIR]     (default: bench/device/out, git-ignored)
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${1:-$repo/bench/device/out}"
# $PYTHON, else the project's venv beside the checkout (/work/venv for /work/main and /work/wt/*).
python="${PYTHON:-}"
for candidate in "$repo/../venv/bin/python" "$repo/../../venv/bin/python" "$(command -v python3)"; do
    [ -n "$python" ] && break
    [ -x "$candidate" ] && python="$candidate"
done

rm -rf "$out"
mkdir -p "$out/bin"
work="$out/prism4d"
rsync -a --exclude target --exclude dist "$repo/examples/prism4d/" "$work/"

export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export PIPELINE_CUDA_TOOL="$python -m pipeline"
unset PIPELINE_CUDA_ARCHS PIPELINE_CUDA_PREBUILT PRISM_NO_CUDA PIPELINE_WORKSPACE
export CARGO_TARGET_DIR="$out/.cargo-target"

# The kernels, as `pipeline cuda` builds them (build.rs below finds them all cached).
"$python" -m pipeline --workspace "$work" cuda

# The GPU test binary of prism-gpu and the release binary, both through build.rs -> the tool.
(cd "$work" && cargo test --offline --no-run -p prism-gpu --features gpu --message-format=json \
    >"$out/cargo-test.json" 2>"$out/cargo-test.log")
test_bin="$("$python" - "$out/cargo-test.json" <<'PY'
import json, sys
for line in open(sys.argv[1]):
    if line.startswith("{"):
        m = json.loads(line)
        if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "prism_gpu":
            print(m["executable"])
PY
)"
cp "$test_bin" "$out/bin/prism_gpu-tests"
(cd "$work" && cargo build --offline --release -p prism 2>"$out/cargo-release.log")
cp "$CARGO_TARGET_DIR/release/prism" "$out/bin/prism"
rm -rf "$CARGO_TARGET_DIR" "$out/cargo-test.json"

# cuobjdump from the nvidia-cuda-cuobjdump wheel (the `cuda` extra), or the toolkit's.
cuobjdump="$("$python" -c 'from pipeline.cuda.verify import find_cuobjdump; print(find_cuobjdump())')"
cp "$cuobjdump" "$out/bin/cuobjdump"
cp "$repo/bench/device/load_time.py" "$out/load_time.py"

# What is in there, checked here already (the GPU machine repeats it).
for file in "$out/bin/prism_gpu-tests" "$out/bin/prism" "$work"/target/cuda/*.fatbin; do
    elf="$("$out/bin/cuobjdump" --list-elf "$file" | grep -o 'sm_[0-9][0-9]*' | sort -u | tr '\n' ' ')"
    ptx="$("$out/bin/cuobjdump" --list-ptx "$file" | grep -o 'sm_[0-9][0-9]*' | sort -u | tr '\n' ' ')"
    echo "$(basename "$file"): SASS $elf/ PTX $ptx"
    for arch in sm_80 sm_90 sm_120; do
        case " $elf" in *" $arch "*) ;; *) echo "missing $arch in $file" >&2; exit 1 ;; esac
    done
    case " $ptx" in *" sm_120 "*) ;; *) echo "missing PTX compute_120 in $file" >&2; exit 1 ;; esac
done
du -sh "$out"
size_kib="$(du -sk "$out" | cut -f1)"
if [ "$size_kib" -gt $((40 * 1024)) ]; then
    echo "error: $out is ${size_kib} KiB, over the 40 MiB that can be carried" >&2
    exit 1
fi
