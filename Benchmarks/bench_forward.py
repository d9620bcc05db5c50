#!/usr/bin/env python3
"""The forward pass: ModelPort's `forward` (in-process seconds, as `forward --json` reports them) next to PyTorch
on 2 threads with eager attention, on randomly initialised BERT-base-shaped and MiniLM-shaped models, batch 8 ×
128 tokens. Prints the median of each, the ratio, the BLAS library and kernel ModelPort loaded, the CPU, and the
largest difference between the two last hidden states (a sanity check, not the parity test).

What each side times: PyTorch's model is loaded and has run once (a warm-up) before its timed call, so its time
leaves out loading. ModelPort's "cold" time is its first pass in a fresh process: it includes loading the BLAS
library and the first touch of the weights' mapped pages and of its buffers. Its "warm" time (`forward --warm-up`)
is a second pass in the same process, the like-for-like figure; the ratio is taken on it.

Needs torch and transformers; run with a Python that has them, or set BENCH_PYTHON (default: the repository's
.venv-samples/bin/python), which this script re-executes itself with. Without either it says so and exits 0.

Usage: bench_forward.py MODELPORT_BINARY [--runs N] [--models bert-base,minilm] [--batch 8] [--length 128]
                        [--baseline OTHER_MODELPORT_BINARY]   (an earlier build, timed in the same interleaved runs)
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# Shapes of bert-base-uncased and sentence-transformers/all-MiniLM-L6-v2 (their config.json files).
MODELS = {
    "bert-base": dict(hidden_size=768, num_hidden_layers=12, num_attention_heads=12, intermediate_size=3072, vocab_size=30522),
    "minilm": dict(hidden_size=384, num_hidden_layers=6, num_attention_heads=12, intermediate_size=1536, vocab_size=30522),
}


def reexec_with_torch():
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
        return
    except ImportError:
        pass
    here = os.path.dirname(os.path.abspath(__file__))
    python = os.environ.get("BENCH_PYTHON", os.path.join(here, "..", ".venv-samples", "bin", "python"))
    if os.environ.get("BENCH_FORWARD_REEXEC") or not os.path.exists(python):
        print("forward bench skipped: no Python with torch + transformers (set BENCH_PYTHON)")
        sys.exit(0)
    os.environ["BENCH_FORWARD_REEXEC"] = "1"
    os.execv(python, [python, os.path.abspath(__file__)] + sys.argv[1:])


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform
    return platform.processor() or platform.machine()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("modelport")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--models", default="bert-base,minilm")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=128)
    parser.add_argument("--baseline")
    args = parser.parse_args()
    reexec_with_torch()
    import torch
    from safetensors.torch import save_file
    from transformers import BertConfig, BertModel

    torch.set_num_threads(2)
    binary = os.path.abspath(args.modelport)
    rows, blas = [], None
    with tempfile.TemporaryDirectory(prefix="mp-bench-forward-") as tmp:
        for name in args.models.split(","):
            torch.manual_seed(0)
            config = BertConfig(**MODELS[name], attn_implementation="eager")
            model = BertModel(config).eval()
            folder = os.path.join(tmp, name)
            model.save_pretrained(folder, safe_serialization=True)
            generator = torch.Generator().manual_seed(1)
            ids = torch.randint(0, config.vocab_size, (args.batch, args.length), generator=generator)
            inputs = {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": torch.ones_like(ids)}
            input_file = os.path.join(tmp, name + "-inputs.safetensors")
            save_file({k: v.contiguous() for k, v in inputs.items()}, input_file)
            output_file = os.path.join(tmp, name + "-outputs.safetensors")

            def modelport(write, executable=binary, warm=False):
                command = [executable, "forward", folder, "--inputs", input_file, "--json"] + (["--warm-up"] if warm else [])
                if write:
                    command += ["--output", output_file, "--force"]
                result = subprocess.run(command, check=True, capture_output=True, text=True)
                return json.loads(result.stdout)

            with torch.inference_mode():
                expected = model(**inputs).last_hidden_state  # warm-up, and the reference for the sanity check
                first = modelport(write=True)
                blas = first.get("blas", blas)
                ours, cold, theirs, before = [], [], [], []
                for _ in range(args.runs):  # interleaved, so a busy neighbour slows both alike
                    cold.append(modelport(write=False)["seconds"])
                    ours.append(modelport(write=False, warm=True)["seconds"])
                    if args.baseline:
                        before.append(modelport(write=False, executable=os.path.abspath(args.baseline))["seconds"])  # cold: any build has it
                    time.sleep(0.2)  # let torch's OpenMP threads stop spinning before timing the next
                    start = time.perf_counter()
                    model(**inputs)
                    theirs.append(time.perf_counter() - start)
                    time.sleep(0.2)
            from safetensors.torch import load_file
            got = load_file(output_file)["last_hidden_state"]
            difference = (got - expected).abs().max().item()
            rows.append((name, statistics.median(cold), statistics.median(ours), statistics.median(theirs), difference,
                         statistics.median(before) if before else None))

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    print(f"CPU: {cpu_name()}, {os.cpu_count()} cores (load average {load}); PyTorch {torch.__version__} on 2 threads, eager attention")
    if blas:
        print("ModelPort BLAS: " + ", ".join(f"{k} {v}" for k, v in blas.items()))
    print(f"forward, {args.batch}×{args.length} tokens, fp32, median of {args.runs} (in-process seconds)")
    print(f"{'model':<12} {'cold':>10} {'ModelPort':>10} {'PyTorch':>10} {'ratio':>7} {'max |Δ|':>10}" + (f" {'base cold':>10}" if args.baseline else ""))
    for name, cold, ours, theirs, difference, before in rows:
        print(f"{name:<12} {cold:>10.3f} {ours:>10.3f} {theirs:>10.3f} {ours / theirs:>6.2f}× {difference:>10.2e}"
              + (f" {before:>10.3f}" if before is not None else ""))


if __name__ == "__main__":
    main()
