#!/usr/bin/env python3
"""`make bench`: times ModelPort conversions of a ~100 MB safetensors model next to `cp` of the same file
and, when a Python with torch + safetensors is available (BENCH_PYTHON, default: .venv-samples/bin/python),
next to the Python route. Standard library only; prints one row per command (best of N runs, peak RSS).
ModelPort fsyncs its output before renaming it into place, so `cp + sync` is the fair floor; RSS of a
reader that maps its input counts the mapped (page-cache, shared) pages it touched.

Usage: bench.py MODELPORT_BINARY [--runs N] [--size-mb N]
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


def make_model(path, size_mb):
    """A BERT-base-shaped set of f32 tensors (random bytes that are finite floats), about size_mb MB."""
    hidden, inter = 768, 3072
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
        json.dump({"model_type": "bert", "hidden_size": hidden, "num_hidden_layers": i, "num_attention_heads": 12,
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


# llama.cpp's quantizer (llama_model_quantize from llama-cpp-python's libllama, pure: every weight the given type,
# no imatrix), timed in-process: F32 GGUF in, quantized GGUF out.
LLAMA_QUANTIZE = r"""
import ctypes, sys, time, os
import llama_cpp
llama_cpp.llama_log_set(ctypes.cast(0, llama_cpp.llama_log_callback), ctypes.c_void_p(0)) if hasattr(llama_cpp, "llama_log_set") else None
params = llama_cpp.llama_model_quantize_default_params()
params.ftype, params.pure, params.nthread = int(sys.argv[3]), True, 2
best = None
for _ in range(int(sys.argv[4])):
    t = time.perf_counter()
    assert llama_cpp.llama_model_quantize(sys.argv[1].encode(), sys.argv[2].encode(), ctypes.byref(params)) == 0
    best = min(best or 1e9, time.perf_counter() - t)
print(best)
"""

# gguf-py's numpy quantizer on the same weight matrices (what convert_hf_to_gguf.py runs), timed in-process.
GGUF_PY_QUANTIZE = r"""
import sys, time
import numpy as np
from safetensors.numpy import load_file
import gguf
kind = getattr(gguf.GGMLQuantizationType, sys.argv[2])
weights = [v for k, v in load_file(sys.argv[1]).items() if v.ndim == 2 and "position" not in k and "token_type" not in k]
t = time.perf_counter()
for w in weights:
    gguf.quants.quantize(w, kind)
print(time.perf_counter() - t, sum(w.nbytes for w in weights))
"""

QUANT_TYPES = [("q8_0", 7), ("q6_k", 18), ("q5_k", 16), ("q5_1", 9), ("q5_0", 8), ("q4_k", 14), ("q4_1", 3), ("q4_0", 2)]


def quantization_benchmark(binary, python, work, src, runs):
    """GGUF quantization throughput (MB/s of f32 weight input) per type: ModelPort's whole conversion next to
    llama.cpp's llama_model_quantize (2 threads) and gguf-py's numpy quantizer, where installed."""
    out = os.path.join(work, "quant")
    os.makedirs(out, exist_ok=True)
    f32 = os.path.join(out, "f32.gguf")
    subprocess.run([binary, "convert", os.path.dirname(src), f32, "--force"], check=True, stdout=subprocess.DEVNULL)
    size = os.path.getsize(f32)
    has_llama = subprocess.run([python, "-c", "import llama_cpp"], capture_output=True).returncode == 0
    has_gguf = subprocess.run([python, "-c", "import gguf.quants"], capture_output=True).returncode == 0
    print()
    print(f"GGUF quantization of the same model ({size / 1e6:.1f} MB f32), 2 cores; MB/s of f32 input; best of {runs}")
    print(f"{'type':<6} {'modelport convert':>18} {'llama_model_quantize':>21} {'gguf-py numpy':>14} {'same bytes as llama.cpp':>24}")
    for dtype, ftype in QUANT_TYPES:
        target = os.path.join(out, f"m-{dtype}.gguf")
        seconds, _ = measure([binary, "convert", os.path.dirname(src), target, "--dtype", dtype, "--no-quality", "--force"],
                             runs, lambda: None)
        ours = f"{size / 1e6 / seconds:>12.0f} MB/s"
        theirs, same, numpy_rate = "", "", ""
        if has_llama:
            theirs_path = os.path.join(out, f"l-{dtype}.gguf")
            t = float(subprocess.run([python, "-c", LLAMA_QUANTIZE, f32, theirs_path, str(ftype), str(runs)], check=True,
                                     capture_output=True, text=True).stdout.split()[-1])
            theirs = f"{size / 1e6 / t:>15.0f} MB/s"
            same = "yes" if has_gguf and subprocess.run(
                [python, "-c", "import sys, gguf; a, b = (gguf.GGUFReader(p).tensors for p in sys.argv[1:]); "
                 "sys.exit(0 if {t.name: (t.tensor_type, t.data.tobytes()) for t in a} == "
                 "{t.name: (t.tensor_type, t.data.tobytes()) for t in b} else 1)", target, theirs_path]).returncode == 0 else "no"
        if has_gguf and not dtype.endswith("_k"):
            t, n = subprocess.run([python, "-c", GGUF_PY_QUANTIZE, src, dtype.upper()], check=True, capture_output=True,
                                  text=True).stdout.split()
            numpy_rate = f"{int(n) / 1e6 / float(t):>8.0f} MB/s"
        elif has_gguf:
            numpy_rate = "(no K encoder)"
        print(f"{dtype.upper():<6} {ours:>18} {theirs:>21} {numpy_rate:>14} {same:>24}")
    print("(modelport's row is the whole conversion: read, quantize, write, fsync; llama.cpp's is its quantizer reading "
          "the F32 GGUF; gguf-py's times quantize() alone on the weight matrices)")


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    binary = os.path.abspath(sys.argv[1])
    runs = int(sys.argv[sys.argv.index("--runs") + 1]) if "--runs" in sys.argv else 3
    size_mb = int(sys.argv[sys.argv.index("--size-mb") + 1]) if "--size-mb" in sys.argv else 100
    python = os.environ.get("BENCH_PYTHON", os.path.join(os.path.dirname(__file__), "..", ".venv-samples", "bin", "python"))

    work = tempfile.mkdtemp(prefix="modelport-bench-")
    try:
        src = os.path.join(work, "src", "model.safetensors")
        os.makedirs(os.path.dirname(src))
        size, layers = make_model(src, size_mb)
        out = os.path.join(work, "out")

        def cleanup():
            shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out)

        rows = [
            ("cp (copy the file)", ["cp", src, os.path.join(out, "copy.safetensors")]),
            ("cp + sync (copy, flushed to disk)", ["sh", "-c", 'cp "$0" "$1" && sync "$1"', src, os.path.join(out, "copy.safetensors")]),
            ("modelport convert → safetensors", [binary, "convert", src, os.path.join(out, "m.safetensors")]),
            ("modelport convert → HF folder", [binary, "convert", os.path.dirname(src), os.path.join(out, "hf")]),
            ("modelport convert --dtype f16", [binary, "convert", src, os.path.join(out, "h.safetensors"), "--dtype", "f16"]),
            ("modelport convert --dtype bf16", [binary, "convert", src, os.path.join(out, "b.safetensors"), "--dtype", "bf16"]),
            ("modelport convert --keep-layers 1", [binary, "convert", src, os.path.join(out, "k.safetensors"), "--keep-layers", "1"]),
            ("modelport convert → GGUF F16", [binary, "convert", os.path.dirname(src), os.path.join(out, "m-f16.gguf"), "--dtype", "f16"]),
            ("modelport convert → GGUF Q8_0 --no-quality", [binary, "convert", os.path.dirname(src), os.path.join(out, "m-q8.gguf"), "--dtype", "q8_0", "--no-quality"]),
            ("modelport convert → GGUF Q8_0 + quality report", [binary, "convert", os.path.dirname(src), os.path.join(out, "m-q8r.gguf"), "--dtype", "q8_0"]),
        ]
        has_torch = os.path.exists(python) and subprocess.run(
            [python, "-c", "import torch, safetensors"], capture_output=True).returncode == 0
        if has_torch:
            pt = os.path.join(work, "pt", "pytorch_model.bin")
            os.makedirs(os.path.dirname(pt))
            subprocess.run([python, "-c", "import sys, torch; from safetensors.torch import load_file; "
                            "torch.save(load_file(sys.argv[1]), sys.argv[2])", src, pt], check=True)
            rows.append(("cp (pytorch_model.bin)", ["cp", pt, os.path.join(out, "copy.bin")]))
            rows.append(("modelport convert pytorch_model.bin → safetensors", [binary, "convert", pt, os.path.join(out, "fromp.safetensors")]))
            rows.append(("python: torch.load + save_file",
                         [python, "-c", "import sys, torch; from safetensors.torch import save_file; "
                          "save_file(torch.load(sys.argv[1], weights_only=True), sys.argv[2], metadata={'format': 'pt'})",
                          pt, os.path.join(out, "fromp2.safetensors")]))
            rows.append(("modelport convert safetensors → pytorch_model.bin", [binary, "convert", src, os.path.join(out, "to.bin")]))
            rows.append(("python: load_file + torch.save",
                         [python, "-c", "import sys, torch; from safetensors.torch import load_file; torch.save(load_file(sys.argv[1]), sys.argv[2])",
                          src, os.path.join(out, "to2.bin")]))
            route = ("import sys, torch; from safetensors.torch import load_file, save_file; "
                     "t = load_file(sys.argv[1]); {cast}save_file(t, sys.argv[2], metadata={{'format': 'pt'}})")
            rows.append(("python: load_file + save_file", [python, "-c", route.format(cast=""), src, os.path.join(out, "p.safetensors")]))
            rows.append(("python: load_file + .half() + save_file",
                         [python, "-c", route.format(cast="t = {k: v.half() for k, v in t.items()}; "), src,
                          os.path.join(out, "ph.safetensors")]))

        has_tf = os.path.exists(python) and subprocess.run(
            [python, "-c", "import tensorflow, safetensors"], capture_output=True).returncode == 0
        if has_tf:
            ckpt = os.path.join(work, "tf", "bert_model.ckpt")
            subprocess.run([python, "-c", TF_WRITER, src, ckpt], check=True, capture_output=True)
            tf_bytes = sum(os.path.getsize(os.path.join(work, "tf", n)) for n in os.listdir(os.path.join(work, "tf")))
            rows.append(("cp (the TF checkpoint's data file)",
                         ["cp", ckpt + ".data-00000-of-00001", os.path.join(out, "copy.data")]))
            rows.append(("modelport convert TF1 → safetensors", [binary, "convert", ckpt, os.path.join(out, "tf.safetensors")]))
            rows.append(("python: tf.train.load_checkpoint + transpose + save_file",
                         [python, "-c", TF_ROUTE, ckpt, os.path.join(out, "tfp.safetensors")]))

        has_paddle = os.path.exists(python) and subprocess.run(
            [python, "-c", "import paddle, safetensors"], capture_output=True).returncode == 0
        if has_paddle:
            pdparams = os.path.join(work, "paddle", "model_state.pdparams")
            os.makedirs(os.path.dirname(pdparams))
            subprocess.run([python, "-c", PADDLE_WRITER, src, pdparams], check=True, capture_output=True)
            rows.append(("cp (model_state.pdparams)", ["cp", pdparams, os.path.join(out, "copy.pdparams")]))
            rows.append(("modelport convert .pdparams → safetensors", [binary, "convert", pdparams, os.path.join(out, "pd.safetensors")]))
            rows.append(("python: paddle.load + transpose + save_file", [python, "-c", PADDLE_ROUTE, pdparams, os.path.join(out, "pdp.safetensors")]))

        print(f"model: {size / 1e6:.1f} MB safetensors, {layers} BERT-base layers (f32); best of {runs} runs, warm page cache")
        print(f"{'command':<42} {'seconds':>8} {'MB/s':>8} {'peak RSS MB':>12}")
        for label, command in rows:
            seconds, peak = measure(command, runs, cleanup)
            print(f"{label:<42} {seconds:>8.3f} {size / 1e6 / seconds:>8.0f} {peak / 1024:>12.0f}")
        if "--no-quant" not in sys.argv:
            quantization_benchmark(binary, python, work, src, runs)
        if has_torch and "--no-forward" not in sys.argv:
            forward_benchmark(binary, python, work)
        if has_tf:
            print(f"(TF rows: a TF1 checkpoint of the same weights with Google BERT names, {tf_bytes / 1e6:.1f} MB)")
        if not has_torch:
            print(f"(Python rows skipped: no torch + safetensors at {python}; run `make samples` or set BENCH_PYTHON)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
