#!/usr/bin/env python3
"""`make bench`: one table of ModelPort next to its references, with peak RSS, and the CPU it ran on.

Rows (each a function below, so other sections can be added beside them):
- conversion: a ~100 MB BERT-base-shaped f32 model from every source format (safetensors, PyTorch zip,
  .pdparams, TF1 checkpoint) to safetensors, casts and GGUF Q8_0, each next to `cp` + `sync` of the same source
  bytes (ModelPort fsyncs its output before renaming it into place, so `cp + sync` is the fair floor);
- quantization: every GGUF type from the same F32 GGUF, next to `llama-quantize --pure` (LLAMA_QUANTIZE, or
  .bench-tools/build/bin/llama-quantize; without it, gguf-py's numpy quantizer as a lower bar), with a check
  that the bytes are the same as llama.cpp's;
- peak RSS: a generated BERT-large-shaped model (--large-mb, default 1300 MB; 0 skips it) from every reader to
  safetensors (safetensors, PyTorch zip and legacy, .pdparams, TF1 checkpoint, tf_model.h5, flax_model.msgpack, GGUF,
  ONNX) and from safetensors to every writer, as `/usr/bin/time -v` reports it, against the largest tensor + 64 MB.
The Python routes (torch / TF / Paddle) and the forward pass are further sections. Standard library only; the
source formats other than safetensors need a Python with torch / tensorflow / paddle (BENCH_PYTHON, default
.venv-samples/bin/python) to be written; tf_model.h5 and flax_model.msgpack need transformers 4.x with TF
(BENCH_TF4_PYTHON, default .venv-tf4/bin/python) and with Flax (BENCH_FLAX4_PYTHON, default .venv-flax4/bin/python),
as Samples/keras_flax_writer.py says; a source whose Python is missing is left out.

Usage: bench.py MODELPORT_BINARY [--runs N] [--large-runs N] [--size-mb N] [--large-mb N] [--no-quant] [--no-forward]
                [--no-python]
"""
import json
import os
import random
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))

def make_model(path, size_mb, hidden=768, inter=3072, heads=12):
    """A BERT-shaped set of f32 tensors (random finite floats), about size_mb MB: BERT-base by default,
    BERT-large with hidden=1024, inter=4096, heads=16."""
    shapes = [("embeddings.word_embeddings.weight", [21128, hidden]), ("embeddings.position_embeddings.weight", [512, hidden]),
              ("embeddings.token_type_embeddings.weight", [2, hidden]), ("embeddings.LayerNorm.weight", [hidden]),
              ("embeddings.LayerNorm.bias", [hidden])]
    layer = [("attention.self.query.weight", [hidden, hidden]), ("attention.self.query.bias", [hidden]),
             ("attention.self.key.weight", [hidden, hidden]), ("attention.self.key.bias", [hidden]),
             ("attention.self.value.weight", [hidden, hidden]), ("attention.self.value.bias", [hidden]),
             ("attention.output.dense.weight", [hidden, hidden]), ("attention.output.dense.bias", [hidden]),
             ("attention.output.LayerNorm.weight", [hidden]), ("attention.output.LayerNorm.bias", [hidden]),
             ("intermediate.dense.weight", [inter, hidden]), ("intermediate.dense.bias", [inter]),
             ("output.dense.weight", [hidden, inter]), ("output.dense.bias", [hidden]),
             ("output.LayerNorm.weight", [hidden]), ("output.LayerNorm.bias", [hidden])]
    total = sum(4 * prod(s) for _, s in shapes)
    i = 0
    while total < size_mb * 1_000_000:
        for name, s in layer:
            shapes.append((f"encoder.layer.{i}.{name}", s))
            total += 4 * prod(s)
        i += 1
    header, offset = {"__metadata__": {"format": "pt"}}, 0
    for name, s in shapes:
        n = 4 * prod(s)
        header[name] = {"dtype": "F32", "shape": s, "data_offsets": [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    rng = random.Random(0)
    block = struct.pack("<65536f", *[rng.gauss(0, 0.02) for _ in range(65536)])
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        left = offset
        while left > 0:
            f.write(block[: min(left, len(block))])
            left -= min(left, len(block))
    with open(os.path.join(os.path.dirname(path), "config.json"), "w") as f:
        json.dump({"model_type": "bert", "hidden_size": hidden, "num_hidden_layers": i, "num_attention_heads": heads,
                   "intermediate_size": inter, "vocab_size": 21128, "max_position_embeddings": 512,
                   "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}, f)
    return offset + 8 + len(text), i


def prod(s):
    n = 1
    for d in s:
        n *= d
    return n


# Runs one command in a fresh child and reports its own peak RSS (kB), so rows do not share a maximum.
RUNNER = ("import resource, subprocess, sys, time; t = time.perf_counter(); "
          "subprocess.run(sys.argv[1:], check=True, stdout=subprocess.DEVNULL); "
          "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def measure(command, runs, cleanup):
    best = None
    peak = 0
    for _ in range(runs):
        cleanup()
        result = subprocess.run([sys.executable, "-c", RUNNER, *command], check=True, capture_output=True, text=True)
        elapsed, rss = result.stdout.split()
        peak = max(peak, int(rss))
        best = float(elapsed) if best is None else min(best, float(elapsed))
    return best, peak


# Writes the benchmark model as a TF1 checkpoint with Google BERT names (kernels transposed to [in, out]).
TF_WRITER = r"""
import sys, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
from safetensors.numpy import load_file
t = load_file(sys.argv[1])
g = tf.Graph()
with g.as_default():
    for name, v in t.items():
        parts = name.replace(".weight", "/kernel" if v.ndim == 2 and "embeddings" not in name else "/gamma" if "LayerNorm" in name else "")
        tf_name = "bert/" + parts.replace(".bias", "/beta" if "LayerNorm" in name else "/bias")
        tf_name = tf_name.replace("layer.", "layer_").replace(".", "/")
        value = np.ascontiguousarray(v.T) if tf_name.endswith("/kernel") else v
        tf.compat.v1.get_variable(tf_name, initializer=tf.constant(value))
    saver = tf.compat.v1.train.Saver()
    with tf.compat.v1.Session(graph=g) as s:
        s.run(tf.compat.v1.global_variables_initializer())
        saver.save(s, sys.argv[2], write_meta_graph=False)
"""

# The Python route for the same job: read with TF, rename and transpose, save with safetensors.
TF_ROUTE = r"""
import sys, os
os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
import numpy as np, tensorflow as tf
from safetensors.numpy import save_file
r = tf.train.load_checkpoint(sys.argv[1])
out = {}
for name in r.get_variable_to_shape_map():
    v = r.get_tensor(name)
    hf = name.replace("bert/", "").replace("layer_", "layer.").replace("/", ".")
    hf = hf.replace(".kernel", ".weight").replace(".gamma", ".weight").replace(".beta", ".bias")
    if name.endswith("/kernel"):
        v = np.ascontiguousarray(v.T)
    if hf.endswith("_embeddings"):
        hf += ".weight"
    out[hf] = v
save_file(out, sys.argv[2], metadata={"format": "pt"})
"""


# Writes the benchmark model as PaddleNLP saves BERT (paddle.save of a state dict; Linear weights [in, out]).
PADDLE_WRITER = r"""
import sys, numpy as np, paddle
from safetensors.numpy import load_file
renames = [("embeddings.LayerNorm.", "embeddings.layer_norm."), ("encoder.layer.", "encoder.layers."),
           ("attention.self.query.", "self_attn.q_proj."), ("attention.self.key.", "self_attn.k_proj."),
           ("attention.self.value.", "self_attn.v_proj."), ("attention.output.dense.", "self_attn.out_proj."),
           ("intermediate.dense.", "linear1."), ("attention.output.LayerNorm.", "norm1."),
           ("output.dense.", "linear2."), ("output.LayerNorm.", "norm2.")]
state = {}
for name, v in load_file(sys.argv[1]).items():
    for a, b in renames:
        name = name.replace(a, b)
    if v.ndim == 2 and "embeddings" not in name:
        v = np.ascontiguousarray(v.T)
    state["bert." + name] = paddle.to_tensor(v)
paddle.save(state, sys.argv[2])
"""

# The Python route: paddle.load, PaddleNLP → HF names, transposes, safetensors.numpy.save_file.
PADDLE_ROUTE = r"""
import sys, numpy as np, paddle
from safetensors.numpy import save_file
renames = [("bert.", ""), ("embeddings.layer_norm.", "embeddings.LayerNorm."), ("encoder.layers.", "encoder.layer."),
           ("self_attn.q_proj.", "attention.self.query."), ("self_attn.k_proj.", "attention.self.key."),
           ("self_attn.v_proj.", "attention.self.value."), ("self_attn.out_proj.", "attention.output.dense."),
           ("linear1.", "intermediate.dense."), ("linear2.", "output.dense."), ("norm1.", "attention.output.LayerNorm."),
           ("norm2.", "output.LayerNorm.")]
out = {}
for name, v in paddle.load(sys.argv[1], return_numpy=True).items():
    if v.ndim == 2 and "embeddings" not in name:
        v = np.ascontiguousarray(v.T)
    for a, b in renames:
        name = name.replace(a, b)
    out[name] = v
save_file(out, sys.argv[2], metadata={"format": "pt"})
"""

FORWARD_SETUP = r"""
import sys, torch
from transformers import BertConfig, BertModel
from safetensors.torch import save_file
torch.manual_seed(0)
model = BertModel(BertConfig(vocab_size=21128)).eval()   # BERT-base: 12 layers, hidden 768, 12 heads, I 3072
model.save_pretrained(sys.argv[1])
ids = torch.randint(5, 21128, (8, 128))
save_file({"input_ids": ids, "attention_mask": torch.ones(8, 128, dtype=torch.int64),
           "token_type_ids": torch.zeros(8, 128, dtype=torch.int64)}, sys.argv[2])
"""

FORWARD_TORCH = r"""
import sys, time, torch
from transformers import BertModel
from safetensors.torch import load_file
torch.set_num_threads(2)
model = BertModel.from_pretrained(sys.argv[1], attn_implementation="eager").eval()
inputs = load_file(sys.argv[2])
with torch.no_grad():
    model(**inputs)
    best = min((lambda t: (model(**inputs), time.perf_counter() - t)[1])(time.perf_counter()) for _ in range(3))
print(best)
"""


def forward_benchmark(binary, python, work):
    """BERT-base (12 layers, hidden 768), batch 8 × 128: ModelPort's fp32 forward next to PyTorch's on 2 threads."""
    import json as _json
    folder, inputs = os.path.join(work, "bert-base"), os.path.join(work, "inputs.safetensors")
    subprocess.run([python, "-c", FORWARD_SETUP, folder, inputs], check=True, capture_output=True)
    layers, hidden, inter, tokens, length = 12, 768, 3072, 8 * 128, 128
    flops = layers * (2 * tokens * (4 * hidden * hidden + 2 * hidden * inter) + 4 * 8 * length * length * hidden)
    ours = min(_json.loads(subprocess.run([binary, "forward", folder, "--inputs", inputs, "--json"], check=True,
                                          capture_output=True, text=True).stdout)["seconds"] for _ in range(3))
    theirs = float(subprocess.run([python, "-c", FORWARD_TORCH, folder, inputs], check=True, capture_output=True,
                                  text=True).stdout.split()[-1])
    print()
    print(f"forward pass, BERT-base random weights, batch 8 × 128 tokens, fp32, {flops / 1e9:.0f} GFLOP; best of 3")
    print(f"{'implementation':<42} {'seconds':>8} {'GFLOP/s':>8}")
    print(f"{'modelport forward (OpenBLAS sgemm)':<42} {ours:>8.3f} {flops / 1e9 / ours:>8.1f}")
    print(f"{'PyTorch CPU, 2 threads, eager':<42} {theirs:>8.3f} {flops / 1e9 / theirs:>8.1f}")


# ---------------------------------------------------------------------------------------------------------------
# One table: conversion, quantization and peak-RSS rows. Each section function returns rows; `print_table` prints
# them. A row: job, ModelPort seconds, reference name, reference seconds, goal ratio, ModelPort peak RSS (MB), and
# the RSS limit (MB) where one applies.

def cpu_description():
    """The CPU model, cores and vector extensions, from /proc/cpuinfo (Linux) or sysctl (macOS)."""
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
        model = next((l.split(":", 1)[1].strip() for l in info.splitlines() if l.startswith("model name")), "?")
        flags = next((l.split(":", 1)[1].split() for l in info.splitlines() if l.startswith("flags")), [])
        simd = [f for f in ("sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512_bf16") if f in flags]
        return f"{model}, {os.cpu_count()} logical cores, {' '.join(simd)}"
    except OSError:
        out = subprocess.run(["sysctl", "-n", "machdep.cpu.brand_string"], capture_output=True, text=True).stdout.strip()
        return f"{out or 'unknown CPU'}, {os.cpu_count()} logical cores"


# Per command (joined), the largest anonymous / file-backed resident memory seen while it ran (MB), for the notes.
RSS_SPLIT = {}


def sample_rss(process):
    """Polls the child of `/usr/bin/time` (process) every 2 ms until it exits: the peaks of RssAnon, RssFile and
    RssShmem from /proc/PID/status (MB). A sampled peak, so it can miss a short spike that time -v still counts."""
    peaks = {"RssAnon": 0, "RssFile": 0, "RssShmem": 0, "mappings": ""}
    child, captured = None, 0.0
    while process.poll() is None:
        try:
            if child is None:
                with open(f"/proc/{process.pid}/task/{process.pid}/children") as f:
                    pids = f.read().split()
                child = pids[0] if pids else None
            if child is not None:
                with open(f"/proc/{child}/status") as f:
                    status = {line.split(":")[0]: line for line in f}
                file_mb = int(status["RssFile"].split()[1]) / 1024
                if file_mb > captured + 16:  # which files the file-backed pages belong to, as the peak grows
                    peaks["mappings"], captured = largest_mappings(child), file_mb
                for key in ("RssAnon", "RssFile", "RssShmem"):
                    peaks[key] = max(peaks[key], int(status[key].split()[1]) / 1024)
        except (FileNotFoundError, ProcessLookupError, IndexError, ValueError, KeyError):
            pass
        time.sleep(0.002)
    return peaks


def largest_mappings(pid, count=3):
    """The mappings of /proc/PID/smaps with the most resident memory: "file MB (huge-page mapped MB)", largest first."""
    found, name = [], None
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            fields = line.split()
            if fields and "-" in fields[0] and not fields[0].endswith(":"):
                name = os.path.basename(fields[5]) if len(fields) > 5 else "[anonymous]"
            elif fields and fields[0] == "Rss:":
                found.append([int(fields[1]) // 1024, name, 0])
            elif fields and fields[0] == "FilePmdMapped:" and found:
                found[-1][2] = int(fields[1]) // 1024
    found.sort(reverse=True)
    return ", ".join(f"{n} {mb} MB" + (f" ({pmd} MB huge-page mapped)" if pmd else "") for mb, n, pmd in found[:count])


def timed(command, runs, cleanup=lambda: None):
    """Best wall time of `runs` runs and the largest peak RSS (MB) that `/usr/bin/time -v` reports for them
    (resource.getrusage of the child where /usr/bin/time is missing). On Linux the anonymous / file-backed split of
    the peak is sampled too (RSS_SPLIT)."""
    best, peak = None, 0.0
    has_time = os.path.exists("/usr/bin/time") and sys.platform.startswith("linux")
    for _ in range(runs):
        cleanup()
        if has_time:
            t = time.perf_counter()
            process = subprocess.Popen(["/usr/bin/time", "-v", *command], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                       text=True)
            split = sample_rss(process)
            stderr = process.stderr.read()
            process.wait()
            elapsed = time.perf_counter() - t
            if process.returncode != 0:
                raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
            kb = next(int(l.split(":")[1]) for l in stderr.splitlines() if "Maximum resident set size" in l)
            key = " ".join(command)
            previous = RSS_SPLIT.get(key, {})
            merged = {k: max(v, previous.get(k, 0)) for k, v in split.items() if k != "mappings"}
            merged["mappings"] = split["mappings"] if split["RssFile"] >= previous.get("RssFile", 0) else previous.get("mappings", "")
            RSS_SPLIT[key] = merged
        else:
            elapsed, kb = measure(command, 1, lambda: None)
        peak = max(peak, kb / 1024)
        best = elapsed if best is None else min(best, elapsed)
    return best, peak


def timed_in_rounds(jobs, runs, cleanup):
    """`timed` for every (command, reference) pair of `jobs`, in `runs` rounds that each run every job once, ModelPort
    and its reference back to back (which goes first alternates by round): a job's runs are spread over the whole
    section, so a slow spell of this machine's disk or CPU, which lasts seconds, reaches one or two of them, and
    reaches the reference as often as ModelPort. [(best time, peak RSS MB, reference's best time)] in `jobs`' order."""
    best = [[None, 0.0, None] for _ in jobs]
    for run in range(runs):
        for (command, reference), result in zip(jobs, best):
            for which in ((0, 1) if run % 2 == 0 else (1, 0)):
                elapsed, rss = timed(reference if which else command, 1, cleanup)
                slot = 2 if which else 0
                result[slot] = elapsed if result[slot] is None else min(result[slot], elapsed)
                if not which:
                    result[1] = max(result[1], rss)
    return [tuple(result) for result in best]


def copy_sync(source, target):
    """`cp` then `sync` of the copy (coreutils `sync FILE` fsyncs it), as one timed command."""
    return ["sh", "-c", 'cp "$0" "$1" && sync "$1"', source, target]


def tree_bytes(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(path) for n in names)


def write_sources(src, work, python, formats):
    """The same weights as a PyTorch zip, a .pdparams and a TF1 checkpoint (those the Python at `python` can write):
    {format: (path to convert, the file(s) `cp` copies)}."""
    sources = {"safetensors": (src, src)}
    def can(modules):
        return os.path.exists(python) and subprocess.run([python, "-c", f"import {modules}"], capture_output=True).returncode == 0
    if "pytorch" in formats and can("torch, safetensors"):
        pt = os.path.join(work, "pt", "pytorch_model.bin")
        os.makedirs(os.path.dirname(pt), exist_ok=True)
        subprocess.run([python, "-c", "import sys, torch; from safetensors.torch import load_file; "
                        "torch.save(load_file(sys.argv[1]), sys.argv[2])", src, pt], check=True)
        sources["pytorch"] = (pt, pt)
    if "paddle" in formats and can("paddle, safetensors"):
        pd = os.path.join(work, "paddle", "model_state.pdparams")
        os.makedirs(os.path.dirname(pd), exist_ok=True)
        subprocess.run([python, "-c", PADDLE_WRITER, src, pd], check=True, capture_output=True)
        sources["paddle"] = (pd, pd)
    if "tensorflow" in formats and can("tensorflow, safetensors"):
        ckpt = os.path.join(work, "tf", "bert_model.ckpt")
        subprocess.run([python, "-c", TF_WRITER, src, ckpt], check=True, capture_output=True)
        sources["tensorflow"] = (ckpt, ckpt + ".data-00000-of-00001")
    if "torch-legacy" in formats and can("torch, safetensors"):
        legacy = os.path.join(work, "pt-legacy", "pytorch_model.bin")
        os.makedirs(os.path.dirname(legacy), exist_ok=True)
        subprocess.run([python, "-c", "import sys, torch; from safetensors.torch import load_file; "
                        "torch.save(load_file(sys.argv[1]), sys.argv[2], _use_new_zipfile_serialization=False)", src, legacy],
                       check=True)
        sources["torch legacy"] = (legacy, legacy)
    # transformers 4.x's TF and Flax classes write tf_model.h5 and flax_model.msgpack (Samples/keras_flax_writer.py,
    # in the venvs Samples/generate.py documents: BENCH_TF4_PYTHON, BENCH_FLAX4_PYTHON).
    writer = os.path.join(ROOT, "Samples", "keras_flax_writer.py")
    for name, env, venv, mode, file in [("keras", "BENCH_TF4_PYTHON", ".venv-tf4", "tf", "tf_model.h5"),
                                        ("flax", "BENCH_FLAX4_PYTHON", ".venv-flax4", "flax", "flax_model.msgpack")]:
        other = os.environ.get(env, os.path.join(ROOT, venv, "bin", "python"))
        if name in formats and not os.path.exists(other):
            print(f"({name} source left out: no {other}; set {env} to a Python with transformers 4.x, see {writer})")
        elif name in formats:
            folder = os.path.join(work, name)
            result = subprocess.run([other, writer, mode, "BertModel", os.path.dirname(src), folder], capture_output=True, text=True)
            if result.returncode == 0:
                sources[name] = (folder, os.path.join(folder, file))
            else:
                print(f"({name} source skipped: {result.stderr.strip().splitlines()[-1:]})")
    return sources


def conversion_rows(binary, sources, work, runs):
    """Every source format → safetensors (lossless, goal 1.2× cp + sync of the same source bytes), casts and GGUF
    Q8_0 (goal 1.5×), and Q8_0 with the default quality check (goal 2×)."""
    out = os.path.join(work, "out")

    def cleanup():
        # The previous output removed and everything written so far on disk (the sources this bench just wrote
        # among it), so no run pays for another's writeback.
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        os.sync()

    jobs = []  # (label, command, reference's name, reference, goal)
    src = sources["safetensors"][0]
    folder = os.path.dirname(src)
    for name, (path, copied) in sources.items():
        jobs.append((f"{name} → safetensors", [binary, "convert", path, os.path.join(out, "m.safetensors")],
                     f"cp + sync ({name} source)", copy_sync(copied, os.path.join(out, "copy")), 1.2))
    cp_command = copy_sync(src, os.path.join(out, "copy"))
    for label, args, goal in [
        ("safetensors → f16", [src, os.path.join(out, "h.safetensors"), "--dtype", "f16"], 1.5),
        ("safetensors → bf16", [src, os.path.join(out, "b.safetensors"), "--dtype", "bf16"], 1.5),
        ("safetensors → HF folder", [folder, os.path.join(out, "hf")], 1.2),
        ("safetensors → pytorch_model.bin", [src, os.path.join(out, "m.bin")], 1.2),
        ("safetensors → GGUF F32", [folder, os.path.join(out, "m.gguf")], 1.2),
        ("safetensors → GGUF Q8_0 --no-quality", [folder, os.path.join(out, "q.gguf"), "--dtype", "q8_0", "--no-quality"], 1.5),
        ("safetensors → GGUF Q8_0 (default check)", [folder, os.path.join(out, "q.gguf"), "--dtype", "q8_0"], 2.0),
    ]:
        jobs.append((label, [binary, "convert", *args], "cp + sync (safetensors)", cp_command, goal))
    timings = timed_in_rounds([(command, reference) for _, command, _, reference, _ in jobs], runs, cleanup)
    rows = [(label, ours, ref_name, ref, goal, rss, None)
            for (label, _, ref_name, _, goal), (ours, rss, ref) in zip(jobs, timings)]
    shutil.rmtree(out, ignore_errors=True)
    return rows


QUANT_TYPES = ["Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q4_K", "Q5_K", "Q6_K"]


def find_llama_quantize():
    """llama.cpp's `llama-quantize`: $LLAMA_QUANTIZE, then a build under .bench-tools/ (never committed), then PATH."""
    here = os.path.dirname(os.path.abspath(__file__))
    for candidate in [os.environ.get("LLAMA_QUANTIZE"), os.path.join(here, "..", ".bench-tools", "build", "bin", "llama-quantize"),
                      shutil.which("llama-quantize")]:
        if candidate and os.access(candidate, os.X_OK):
            return os.path.abspath(candidate)
    return None


# gguf-py's numpy quantizer on the weight matrices of the F32 GGUF (what convert_hf_to_gguf.py runs), in-process.
GGUF_PY_QUANTIZE = r"""
import sys, time
import numpy as np
import gguf
kind = getattr(gguf.GGMLQuantizationType, sys.argv[2])
weights = [np.array(t.data).reshape([int(d) for d in reversed(t.shape)]) for t in gguf.GGUFReader(sys.argv[1]).tensors
           if len(t.shape) == 2 and t.name.startswith("blk.")]
t = time.perf_counter()
for w in weights:
    gguf.quants.quantize(w, kind)
print(time.perf_counter() - t)
"""

SAME_TENSORS = ("import sys, gguf; a, b = (gguf.GGUFReader(p).tensors for p in sys.argv[1:]); "
                "sys.exit(0 if {t.name: (int(t.tensor_type), t.data.tobytes()) for t in a} == "
                "{t.name: (int(t.tensor_type), t.data.tobytes()) for t in b} else 1)")


def quantization_rows(binary, python, src, work, runs):
    """Every GGUF type from one F32 GGUF: ModelPort's whole conversion next to `llama-quantize --pure` (2 threads),
    both whole processes; the bytes compared tensor by tensor. Without llama-quantize, gguf-py's numpy quantizer
    (quantize() alone, on the block weight matrices) is the lower bar."""
    out = os.path.join(work, "quant")
    os.makedirs(out, exist_ok=True)
    f32 = os.path.join(out, "f32.gguf")
    subprocess.run([binary, "convert", os.path.dirname(src), f32, "--force"], check=True, stdout=subprocess.DEVNULL)
    llama = find_llama_quantize()
    has_gguf = os.path.exists(python) and subprocess.run([python, "-c", "import gguf.quants"], capture_output=True).returncode == 0
    rows, notes = [], []
    for kind in QUANT_TYPES:
        ours_path = os.path.join(out, f"m-{kind}.gguf")
        ours, rss = timed([binary, "convert", f32, ours_path, "--dtype", kind.lower(), "--no-quality", "--force"], runs)
        if llama:
            theirs_path = os.path.join(out, f"l-{kind}.gguf")
            theirs, _ = timed([llama, "--pure", f32, theirs_path, kind, "2"], runs)
            same = ""
            if has_gguf:
                same = " same bytes" if subprocess.run([python, "-c", SAME_TENSORS, ours_path, theirs_path]).returncode == 0 else " BYTES DIFFER"
            rows.append((f"quantize F32 GGUF → {kind}", ours, "llama-quantize --pure" + same, theirs, 1.0, rss, None))
            os.remove(theirs_path)
        elif has_gguf and not kind.endswith("_K"):
            theirs = float(subprocess.run([python, "-c", GGUF_PY_QUANTIZE, f32, kind], check=True, capture_output=True,
                                          text=True).stdout.split()[-1])
            rows.append((f"quantize F32 GGUF → {kind}", ours, "gguf-py numpy (quantize() only)", theirs, 1.0, rss, None))
        else:
            rows.append((f"quantize F32 GGUF → {kind}", ours, "(no reference)", None, 1.0, rss, None))
        os.remove(ours_path)
    if not llama:
        notes.append("no llama-quantize found (set LLAMA_QUANTIZE or build it under .bench-tools/): gguf-py's numpy "
                     "quantizer is the reference, a lower bar")
    return rows, notes


def rss_rows(binary, python, work, size_mb, runs=5):
    """Peak RSS on a BERT-large-shaped model of about size_mb MB: every reader → safetensors and safetensors → every
    writer / cast, against the largest tensor + 64 MB; timed next to cp + sync of the source, in rounds
    (`timed_in_rounds`; best of five each by default: on a VM a single run of either swings by 2× with the host's
    disk and CPU, and slow spells last seconds)."""
    big = os.path.join(work, "large")
    src = os.path.join(big, "src", "model.safetensors")
    os.makedirs(os.path.dirname(src))
    hidden, inter = 1024, 4096
    size, layers = make_model(src, size_mb, hidden=hidden, inter=inter, heads=16)
    largest = max(21128 * hidden, inter * hidden) * 4
    limit = (largest + 64 * 2**20) / 2**20
    sources = write_sources(src, big, python, {"pytorch", "paddle", "tensorflow", "torch-legacy", "keras", "flax"})
    out = os.path.join(big, "out")

    def cleanup():
        # The previous output removed and everything written so far on disk (the sources this bench just wrote
        # among it), so no run pays for another's writeback.
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(out)
        os.sync()

    subprocess.run([binary, "convert", os.path.dirname(src), os.path.join(big, "model.gguf")], check=True, stdout=subprocess.DEVNULL)
    sources["gguf"] = (os.path.join(big, "model.gguf"), os.path.join(big, "model.gguf"))
    onnx = os.path.join(big, "model.onnx")
    subprocess.run([binary, "convert", os.path.dirname(src), onnx], check=True, stdout=subprocess.DEVNULL)
    sources["onnx"] = (onnx, onnx)
    cp_command = copy_sync(src, os.path.join(out, "copy"))
    tag = f"{size / 1e9:.1f} GB BERT-large"
    jobs = []  # (label, command, reference's name, reference, goal)
    for name, (path, copied) in sources.items():
        if name == "safetensors":
            continue
        jobs.append((f"{name} → safetensors", [binary, "convert", path, os.path.join(out, "m.safetensors")],
                     f"cp + sync ({name})", copy_sync(copied, os.path.join(out, "copy")), 1.2))
    for label, args, goal in [
        ("safetensors → safetensors", [src, os.path.join(out, "m.safetensors")], 1.2),
        ("safetensors → pytorch_model.bin", [src, os.path.join(out, "m.bin")], 1.2),
        ("safetensors → .pdparams", [src, os.path.join(out, "m.pdparams")], 1.2),
        ("safetensors → HF folder", [os.path.dirname(src), os.path.join(out, "hf")], 1.2),
        ("safetensors → GGUF F32", [os.path.dirname(src), os.path.join(out, "m.gguf")], 1.2),
        ("safetensors → f16", [src, os.path.join(out, "h.safetensors"), "--dtype", "f16"], 1.5),
        ("safetensors → bf16", [src, os.path.join(out, "b.safetensors"), "--dtype", "bf16"], 1.5),
        ("safetensors → ONNX", [os.path.dirname(src), os.path.join(out, "m.onnx")], 1.2),
        ("safetensors → ONNX int8 --no-quality", [os.path.dirname(src), os.path.join(out, "i8.onnx"), "--dtype", "int8", "--no-quality"], 1.5),
        ("safetensors → int8 folder", [os.path.dirname(src), os.path.join(out, "i8"), "--dtype", "int8", "--no-quality"], 1.5),
        ("safetensors → MLX 8-bit folder --no-quality", [os.path.dirname(src), os.path.join(out, "mlx"), "--dtype", "mlx8", "--no-quality"], 1.5),
        ("safetensors → MLX 4-bit folder (default check)", [os.path.dirname(src), os.path.join(out, "mlx4"), "--dtype", "mlx4"], 2.0),
        ("safetensors → GGUF Q8_0 --no-quality", [os.path.dirname(src), os.path.join(out, "q.gguf"), "--dtype", "q8_0", "--no-quality"], 1.5),
        ("safetensors → GGUF Q8_0 (default check)", [os.path.dirname(src), os.path.join(out, "q.gguf"), "--dtype", "q8_0"], 2.0),
    ]:
        jobs.append((label, [binary, "convert", *args], "cp + sync (safetensors)", cp_command, goal))
    timings = timed_in_rounds([(command, reference) for _, command, _, reference, _ in jobs], runs, cleanup)
    rows = [(f"{tag}: {label}", ours, ref_name, ref, goal, rss, limit)
            for (label, _, ref_name, _, goal), (ours, rss, ref) in zip(jobs, timings)]
    split_notes = [(label, command, rss) for (label, command, _, _, _), (_, rss, _) in zip(jobs, timings)]
    shutil.rmtree(big, ignore_errors=True)
    notes = [f"large model: {size / 1e6:.0f} MB, {layers} layers, largest tensor {largest / 2**20:.1f} MB, RSS limit "
             f"{limit:.1f} MB (largest tensor + 64 MB); best of {runs} rounds"]
    for label, command, rss in split_notes:
        split = RSS_SPLIT.get(" ".join(command))
        if split and rss > limit:
            notes.append(f"{label}: peak RSS {rss:.0f} MB over the limit; sampled peaks: anonymous {split['RssAnon']:.0f} MB, "
                         f"file-backed {split['RssFile']:.0f} MB, shared {split['RssShmem']:.0f} MB; largest mappings then: "
                         f"{split['mappings'] or 'not sampled'}")
    return rows, notes


def print_table(rows):
    width = max([52] + [len(row[0]) for row in rows])
    print(f"{'job':<{width}} {'ModelPort s':>11} {'reference':<44} {'ref s':>7} {'ratio':>6} {'goal':>5} {'peak RSS MB':>11} {'RSS limit':>9}")
    for job, ours, ref_name, ref, goal, rss, limit in rows:
        ratio = f"{ours / ref:.2f}" if ref else "-"
        flag = "" if not ref or ours / ref <= goal else " !"
        rss_flag = "" if limit is None or rss <= limit else " !"
        print(f"{job:<{width}} {ours:>11.3f} {ref_name:<44} {(f'{ref:.3f}' if ref else '-'):>7} {ratio:>6} {goal:>4.1f}×"
              f" {rss:>9.0f}{rss_flag:<2} {(f'{limit:.0f}' if limit else ''):>9}{flag}")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    large_runs = int(sys.argv[sys.argv.index("--large-runs") + 1]) if "--large-runs" in sys.argv else 5
    size_mb = int(sys.argv[sys.argv.index("--size-mb") + 1]) if "--size-mb" in sys.argv else 100
    large_mb = int(sys.argv[sys.argv.index("--large-mb") + 1]) if "--large-mb" in sys.argv else 1300
    python = os.environ.get("BENCH_PYTHON", os.path.join(os.path.dirname(__file__), "..", ".venv-samples", "bin", "python"))
    if "--no-python" in sys.argv:
        python = "/nonexistent"

    work = tempfile.mkdtemp(prefix="modelport-bench-")
    try:
        src = os.path.join(work, "src", "model.safetensors")
        os.makedirs(os.path.dirname(src))
        size, layers = make_model(src, size_mb)
        print(f"CPU: {cpu_description()}")
        print(f"model: {size / 1e6:.1f} MB safetensors, {layers} BERT-base layers (f32); best of {runs} rounds (each job once per round, next to its reference), warm page cache; "
              f"ratio = ModelPort / reference ('!' marks a ratio over its goal or an RSS over its limit)")
        sources = write_sources(src, work, python, {"pytorch", "paddle", "tensorflow"})
        rows = conversion_rows(binary, sources, work, runs)
        notes = []
        if "--no-quant" not in sys.argv:
            quant, more = quantization_rows(binary, python, src, work, runs)
            rows += quant
            notes += more
        if large_mb > 0:
            big, more = rss_rows(binary, python, work, large_mb, large_runs)
            rows += big
            notes += more
        print_table(rows)
        for note in notes:
            print(f"({note})")
        if "--no-forward" not in sys.argv and os.path.exists(python) and subprocess.run(
                [python, "-c", "import torch, transformers"], capture_output=True).returncode == 0:
            forward_benchmark(binary, python, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
