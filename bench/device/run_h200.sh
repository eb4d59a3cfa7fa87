#!/bin/bash
# Issue 19 on the GPU machine: one batched run. Writes its evidence under $OUT.
# Prepared here: `.whl/` (wheels for Python 3.12 incl. a pycuda built as in ../shared/GPU-NOTES.md),
# `.gpu/gpu-tests` (`pipeline test --gpu --save-prebuilt .gpu/gpu-tests -p ...`) and `.gpu/cuda` (a copy of
# examples/prism4d/target/cuda after `pipeline cuda`); run through the device tool with carry [".whl", ".gpu"].
set -u
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PWD || exit 1
export PATH=/usr/local/cuda/bin:$PATH
WS=examples/prism4d
P="python3 -m pipeline --workspace $WS"
echo "== host"; nvidia-smi -L; nvcc --version | tail -2; nproc; python3 --version
mkdir -p $WS/target && rm -rf $WS/target/cuda && cp -r .gpu/cuda $WS/target/cuda
echo "== 1. kernels cargo embeds"
BIN=$(ls .gpu/gpu-tests/prism_gpu-*)
cuobjdump --list-elf $BIN; cuobjdump --list-ptx $BIN
mkdir -p /tmp/x && (cd /tmp/x && cuobjdump -xelf all $OLDPWD/$BIN >/dev/null && cuobjdump -xptx all $OLDPWD/$BIN >/dev/null; ls /tmp/x)
(cd $WS/target/cuda && sha256sum -c SHA256SUMS | tail -3)
for k in saxpy reduce stencil; do
  nvcc --fatbin -gencode arch=compute_90,code=sm_90 -gencode arch=compute_90,code=compute_90 -o /tmp/x/$k.sm90+ptx90.fatbin $WS/crates/prism-gpu/kernels/$k.cu
  nvcc --fatbin -gencode arch=compute_90,code=compute_90 -o /tmp/x/$k.ptx90only.fatbin $WS/crates/prism-gpu/kernels/$k.cu
done
IMGS="$WS/target/cuda/saxpy.fatbin $WS/target/cuda/reduce.fatbin $WS/target/cuda/stencil.fatbin $(ls /tmp/x/*sm_90.cubin) /tmp/x/saxpy.sm90+ptx90.fatbin /tmp/x/saxpy.ptx90only.fatbin /tmp/x/reduce.sm90+ptx90.fatbin /tmp/x/stencil.sm90+ptx90.fatbin"
for jit in 0 1; do
  echo "== load times CUDA_FORCE_PTX_JIT=$jit"
  CUDA_CACHE_DISABLE=1 CUDA_FORCE_PTX_JIT=$jit $P gpu run --gpus 1 -- python3 bench/device/load_times_pycuda.py $IMGS > $OUT/load-jit$jit.json; echo "exit $?"
done
echo "== gpu run + smoke"
$P gpu info --json > $OUT/gpu-info.json; echo "gpu info exit $?"
$P gpu run --gpus 1 -- python3 -m pipeline --workspace $WS gpu smoke --require-gpu; echo "smoke exit $?"
echo "== prebuilt test binaries, 1 GPU"
$P test --gpu --prebuilt .gpu/gpu-tests --lease-record $OUT/leases-1.jsonl 2>&1 | tail -15; echo "test exit ${PIPESTATUS[0]}"
echo "== 2. runner check"
$P runner check --json > $OUT/runner-check.json; echo "runner check exit $?"
$P runner check; 
mkdir -p /tmp/h200 && printf '[workspace]\nmembers = []\n\n[workspace.metadata.pipeline.runner]\nhugepages = 1024\n\n[workspace.metadata.pipeline.runner.clocks."NVIDIA H200"]\ngraphics = 1980\nmemory = 3201\n' > /tmp/h200/Cargo.toml
python3 -m pipeline --workspace /tmp/h200 runner setup -o $OUT/runner-setup.sh; echo "setup exit $?"
bash $OUT/runner-setup.sh --check; echo "script --check exit $?"
python3 -m pipeline --workspace /tmp/h200 runner setup --check --json > $OUT/setup-check.json; echo "setup --check exit $?"
