#!/usr/bin/env bash
# The speed issue's GPU check as one short script, for a session that is lent a GPU (run on it from the repo root):
#
#     bash benchmarks/gpu_check.sh            # writes logs and JSON under $OUT (./gpu-check where OUT is unset)
#     bash benchmarks/gpu_check.sh train      # then, as a second command: the `paper` protocol itself, 9 minutes at most
#
# 1. The CUDA paths' tests on the machine's own torch (2.11 there): the graphed D step against the eager loop,
#    bf16, the fused kernels.
# 2. The accelerator's block sizes swept (bench_blocks.py), against the values the library guesses for them.
# 3. The `paper` protocol extrapolated on the GPU from the trainer's own pieces (bench_protocol.py): eager against
#    the CUDA-graphed D step (runtime.cuda_graphs), both with D in bfloat16 (runtime.precision 'auto'), and the
#    graphed step in float32 (so the bf16 gain is a ratio from the same run).
# Budget: about 8 minutes on an H100/H200 (a guess: it has not run yet; no GPU has been lent to this project).
set -uo pipefail
out=${OUT:-gpu-check}
mkdir -p "$out"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
py=${PYTHON:-python3}

if [ "${1:-}" = train ]; then
    # The goal: the whole protocol in under 5 minutes on one H100/H200. Its records come back whether or not it ends.
    timeout 540 $py -m seqgan train --preset paper --out "$out/paper-gpu" --no-progress \
        --set "runtime.device='cuda'" --set runtime.cuda_graphs=true 2>&1 | tail -20 | tee "$out/train.txt"
    cp "$out/paper-gpu/metrics.jsonl" "$out/paper-gpu/train.log" "$out/" 2>/dev/null
    rm -rf "$out/paper-gpu/checkpoints" "$out/paper-gpu/tb"
    exit 0
fi

{ nvidia-smi -L; $py -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())"; } 2>&1 | tee "$out/gpu.txt"

timeout 180 $py -m pytest -q -x -p no:cacheprovider tests/test_cuda_graphs.py tests/test_precision.py tests/test_fused.py \
    2>&1 | tail -15 | tee "$out/tests.txt"

# The accelerator block sizes (sampler rows, D's scoring chunk, the fused loss's rows) are guesses until this runs.
timeout 120 $py benchmarks/bench_blocks.py --device cuda --max-steal 1.0 --max-others 1.0 --json "$out/blocks.json" 2>&1 \
    | tail -30 | tee "$out/blocks.txt"

for setting in "eager-bf16:runtime.cuda_graphs=false:runtime.precision='auto'" \
                "graphs-bf16:runtime.cuda_graphs=true:runtime.precision='auto'" \
                "graphs-fp32:runtime.cuda_graphs=true:runtime.precision='fp32'"; do
    IFS=: read -r name graphs precision <<<"$setting"
    timeout 150 $py benchmarks/bench_protocol.py --repeats 1 --max-steal 1.0 --set "runtime.device='cuda'" \
        --set "$graphs" --set "$precision" --json "$out/protocol-$name.json" 2>&1 | tail -14 | tee "$out/protocol-$name.txt"
done
