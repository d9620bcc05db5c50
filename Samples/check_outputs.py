#!/usr/bin/env python3
"""Checks that other tools read what ModelPort writes (run by `make check-python`, optional in CI).

  check_outputs.py MODELPORT_BINARY

Always (safetensors + numpy): converts Samples/bert-tiny to a folder, to f16, to 2 layers and to shards, and
loads every output with the safetensors package, comparing each tensor with the source (f16 against numpy's
own round-to-nearest-even cast).
When mlx is importable: the mlx4/mlx8 folders' weights equal mlx.core.quantize of the source's.
When llama-cpp-python is importable: llama_model_quantize (pure, no imatrix) on ModelPort's F32 GGUF of a 256-wide
BERT writes the same bytes as ModelPort's own Q4_K/Q5_K/Q6_K/Q8_0/Q4_0/Q5_1 output; with torch + transformers too,
its Q4_K_M / Q5_K_M mixes on 384- and 768-wide BERTs equal `--preset q4_k_m` / `q5_k_m` tensor for tensor.
When torch + transformers are importable: transformers.AutoModel.from_pretrained loads each folder with no
missing or unexpected keys, and the full-precision copy reproduces the committed golden hidden states within
1e-5 (a framework's float results depend on its kernels, so they get a tolerance; ModelPort's own bytes are
compared exactly); with compressed-tensors too, transformers loads and decompresses the int8 folder.

A failing check is reported and the checks after it still run; the script exits 1 at the end if any failed.
"""
import os
import subprocess
import sys
import tempfile
import traceback

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file

HERE = os.path.dirname(os.path.abspath(__file__))

# Atol for a framework's float results against committed goldens (another CPU or torch build moves them by ~1e-6).
FLOAT_TOLERANCE = 1e-5

FAILURES = []


class check:
    """One check: an exception inside is reported and recorded, and the script goes on to the next check."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if kind is None or not issubclass(kind, Exception):
            return False
        FAILURES.append(self.name)
        print(f"FAIL {self.name}: {kind.__name__}: {value}", file=sys.stderr)
        traceback.print_tb(tb, limit=-1, file=sys.stderr)
        return True


def tensors_of(folder):
    index = os.path.join(folder, "model.safetensors.index.json")
    if os.path.exists(index):
        import json
        out = {}
        for shard in sorted(set(json.load(open(index))["weight_map"].values())):
            out.update(load_file(os.path.join(folder, shard)))
        return out
    return load_file(os.path.join(folder, "model.safetensors"))


# A BERT whose widths are multiples of 256 (so K-quants apply), written with numpy only.
WIDE_BERT = r"""
import json, os, sys
import numpy as np
from safetensors.numpy import save_file
out = sys.argv[1]; os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(5)
h, i, layers, vocab = 256, 1024, 2, 64
t = {"embeddings.word_embeddings.weight": (vocab, h), "embeddings.position_embeddings.weight": (64, h),
     "embeddings.token_type_embeddings.weight": (2, h), "embeddings.LayerNorm.weight": (h,), "embeddings.LayerNorm.bias": (h,)}
for l in range(layers):
    p = f"encoder.layer.{l}."
    for m in ("attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"):
        t[p + m + ".weight"], t[p + m + ".bias"] = (h, h), (h,)
    t[p + "intermediate.dense.weight"], t[p + "intermediate.dense.bias"] = (i, h), (i,)
    t[p + "output.dense.weight"], t[p + "output.dense.bias"] = (h, i), (h,)
    for n in ("attention.output.LayerNorm", "output.LayerNorm"):
        t[p + n + ".weight"], t[p + n + ".bias"] = (h,), (h,)
save_file({k: (rng.standard_normal(s) * 0.02 + (1 if k.endswith("LayerNorm.weight") else 0)).astype(np.float32)
           for k, s in t.items()}, os.path.join(out, "model.safetensors"), metadata={"format": "pt"})
json.dump({"model_type": "bert", "architectures": ["BertModel"], "hidden_size": h, "intermediate_size": i,
           "num_hidden_layers": layers, "num_attention_heads": 4, "vocab_size": vocab, "max_position_embeddings": 64,
           "type_vocab_size": 2, "layer_norm_eps": 1e-12, "hidden_act": "gelu"}, open(os.path.join(out, "config.json"), "w"))
"""


# A BERT as transformers initialises it from a config alone (seeded): HIDDEN wide, INTERMEDIATE, LAYERS.
TRANSFORMERS_BERT = r"""
import sys
import torch
from transformers import BertConfig, BertModel
out, hidden, intermediate, layers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
torch.manual_seed(14)
config = BertConfig(vocab_size=1000, hidden_size=hidden, intermediate_size=intermediate, num_hidden_layers=layers,
                    num_attention_heads=hidden // 64, max_position_embeddings=128)
BertModel(config).save_pretrained(out)
"""


def main():
    binary = sys.argv[1]
    source = load_file(os.path.join(HERE, "bert-tiny", "model.safetensors"))
    work = tempfile.mkdtemp(prefix="modelport-check-")
    jobs = {
        "same": [],
        "f16": ["--dtype", "f16"],
        "bf16": ["--dtype", "bf16"],
        "two-layers": ["--keep-layers", "2"],
        "sharded": ["--max-shard-size", "20KB"],
    }
    for name, args in jobs.items():
        with check(f"safetensors reads {name}"):
            out = os.path.join(work, name)
            subprocess.run([binary, "convert", os.path.join(HERE, "bert-tiny"), out, *args], check=True, stdout=subprocess.DEVNULL)
            if name == "bf16":  # numpy has no bfloat16: compare the header (dtypes, shapes) only
                with safe_open(os.path.join(out, "model.safetensors"), framework="numpy") as f:
                    header = {k: f.get_slice(k) for k in f.keys()}
                    assert all(header[k].get_dtype() == "BF16" and list(header[k].get_shape()) == list(v.shape)
                               for k, v in source.items())
                print(f"safetensors reads {name}: {len(header)} BF16 tensors with the source's shapes")
                continue
            got = tensors_of(out)
            for key, value in source.items():
                if name == "two-layers" and any(f"encoder.layer.{i}." in key for i in (2, 3)):
                    assert key not in got, key
                    continue
                expected = value.astype(np.float16) if name == "f16" else value
                assert got[key].dtype == expected.dtype, (name, key, got[key].dtype)
                assert np.array_equal(got[key].view(np.uint8), expected.view(np.uint8)), (name, key)
            print(f"safetensors reads {name}: {len(got)} tensors, all equal to the source")

    # TensorFlow checkpoints converted to folders: every tensor equal to the weights they were made from.
    tf_jobs = {"bert-tiny-tf1": "tensorflow/bert-tiny-tf1.reference.safetensors",
               "bert-tiny-sharded": "bert-tiny/model.safetensors", "bert-tiny-tf2": "bert-tiny/model.safetensors",
               "bert-tiny-tf2-unnamed": "bert-tiny/model.safetensors",
               "albert-tiny-tf1": "tensorflow/albert-tiny-tf1.reference.safetensors"}
    for name, reference in tf_jobs.items():
        with check(f"safetensors reads tf-{name}"):
            out = os.path.join(work, "tf-" + name)
            subprocess.run([binary, "convert", os.path.join(HERE, "tensorflow", name), out], check=True, stdout=subprocess.DEVNULL)
            got, expected = tensors_of(out), load_file(os.path.join(HERE, reference))
            assert set(got) == set(expected), (name, set(got) ^ set(expected))
            for key, value in expected.items():
                assert np.array_equal(got[key].view(np.uint8), value.view(np.uint8)), (name, key)
            print(f"safetensors reads tf-{name}: {len(got)} tensors, bit-identical to the reference")

    # The gguf package reads every GGUF ModelPort writes: metadata, tensor names, shapes and types.
    try:
        import gguf
        if not hasattr(gguf, "GGUFReader"):  # only the Samples/gguf fixture folder, not the package
            raise ImportError
    except ImportError:
        gguf = None
        print("gguf not installed: skipped the GGUF read check")
    if gguf is not None:
        for source, dtype, arch in [("bert-tiny", "f32", "bert"), ("bert-tiny", "f16", "bert"), ("bert-tiny", "q8_0", "bert"),
                                    ("bert-tiny", "bf16", "bert"), ("perceiver-tiny", "f16", "perceiver"),
                                    ("cocolm-tiny", "f32", "cocolm"), ("tensorflow/albert-tiny-tf1", "q8_0", "albert")]:
            with check(f"gguf reads {source} --dtype {dtype}"):
                out = os.path.join(work, f"{source.replace('/', '-')}-{dtype}.gguf")
                subprocess.run([binary, "convert", os.path.join(HERE, source), out, "--dtype", dtype], check=True, stdout=subprocess.DEVNULL)
                reader = gguf.GGUFReader(out)
                field = reader.fields["general.architecture"]
                assert bytes(field.parts[field.data[0]]).decode() == arch, out
                types = sorted({t.tensor_type.name for t in reader.tensors})
                for t in reader.tensors:
                    assert t.data.size > 0, t.name
                if arch == "bert":
                    for key in ("bert.block_count", "bert.context_length", "bert.embedding_length", "bert.attention.head_count",
                                "tokenizer.ggml.tokens", "tokenizer.ggml.token_type_count", "bert.attention.causal"):
                        assert key in reader.fields, (out, key)
                print(f"gguf reads {os.path.basename(out)}: {len(reader.tensors)} tensors, types {types}, {len(reader.fields)} fields")

    # MLX: every quantized weight of ModelPort's mlx4/mlx8 folders equals mlx.core.quantize of the source weight.
    try:
        import mlx.core as mx
    except ImportError:
        mx = None
        print("mlx not installed: skipped the MLX check")
    if mx is not None:
        for bits, group in [(4, 32), (4, 64), (8, 32)]:
            with check(f"mlx reads mlx{bits} g{group}"):
                out = os.path.join(work, f"mlx{bits}-g{group}")
                subprocess.run([binary, "convert", os.path.join(HERE, "bert-tiny"), out, "--dtype", f"mlx{bits}",
                                "--group-size", str(group), "--no-quality"], check=True, stdout=subprocess.DEVNULL)
                got = mx.load(os.path.join(out, "model.safetensors"))
                count = 0
                for key, value in load_file(os.path.join(HERE, "bert-tiny", "model.safetensors")).items():
                    if value.ndim == 2 and "LayerNorm" not in key and value.shape[1] % group == 0:
                        w, scales, biases = mx.quantize(mx.array(value), group_size=group, bits=bits)
                        base = key[: -len(".weight")]
                        assert mx.array_equal(got[key], w) and mx.array_equal(got[base + ".scales"], scales), key
                        assert mx.array_equal(got[base + ".biases"], biases), key
                        count += 1
                assert count > 0
                print(f"mlx reads mlx{bits} g{group}: {count} quantized weights equal to mlx.core.quantize of the source")

    # paddle.load reads ModelPort's .pdparams: PaddleNLP names, Linear weights transposed, arrays equal to the source.
    try:
        import paddle
        if not hasattr(paddle, "load"):  # only the Samples/paddle fixture folder, not the package
            raise ImportError
    except ImportError:
        paddle = None
        print("paddle not installed: skipped the paddle.load check")
    if paddle is not None:
        with check("paddle.load reads the --to paddle output"):
            out = os.path.join(work, "paddle")
            subprocess.run([binary, "convert", os.path.join(HERE, "bert-tiny"), out, "--to", "paddle"], check=True, stdout=subprocess.DEVNULL)
            state = paddle.load(os.path.join(out, "model_state.pdparams"), return_numpy=True)
            source_weights = load_file(os.path.join(HERE, "bert-tiny", "model.safetensors"))
            assert len(state) == len(source_weights), (len(state), len(source_weights))
            q = state["bert.encoder.layers.0.self_attn.q_proj.weight"]
            assert np.array_equal(q, source_weights["encoder.layer.0.attention.self.query.weight"].T)
            assert np.array_equal(state["bert.embeddings.word_embeddings.weight"], source_weights["embeddings.word_embeddings.weight"])
            print(f"paddle.load reads the --to paddle output: {len(state)} arrays, PaddleNLP names, Linear weights [in, out]")

    # llama.cpp's own quantizer (llama_model_quantize, pure, no imatrix) writes the same bytes as ModelPort.
    try:
        import ctypes
        import llama_cpp
    except ImportError:
        llama_cpp = None
        print("llama-cpp-python not installed: skipped the llama-quantize comparison")
    if llama_cpp is not None and gguf is not None:
        with check("wide BERT for llama_model_quantize"):
            wide = os.path.join(work, "wide")
            subprocess.run([sys.executable, "-c", WIDE_BERT, wide], check=True)
            f32 = os.path.join(work, "wide-f32.gguf")
            subprocess.run([binary, "convert", wide, f32], check=True, stdout=subprocess.DEVNULL)
        for dtype, ftype in [("q4_k", 14), ("q5_k", 16), ("q6_k", 18), ("q8_0", 7), ("q4_0", 2), ("q5_1", 9)]:
            with check(f"llama_model_quantize {dtype}"):
                ours = os.path.join(work, f"wide-{dtype}.gguf")
                subprocess.run([binary, "convert", wide, ours, "--dtype", dtype, "--no-quality"], check=True, stdout=subprocess.DEVNULL)
                params = llama_cpp.llama_model_quantize_default_params()
                params.ftype, params.pure, params.nthread = ftype, True, 2
                theirs = os.path.join(work, f"wide-{dtype}-llama.gguf")
                assert llama_cpp.llama_model_quantize(f32.encode(), theirs.encode(), ctypes.byref(params)) == 0
                a = {t.name: t for t in gguf.GGUFReader(ours).tensors}
                b = {t.name: t for t in gguf.GGUFReader(theirs).tensors}
                assert set(a) == set(b)
                for name, t in b.items():
                    assert a[name].tensor_type == t.tensor_type and a[name].data.tobytes() == t.data.tobytes(), (dtype, name)
                print(f"llama_model_quantize {dtype}: all {len(b)} tensors byte-identical to ModelPort's")

        # Presets: --preset q4_k_m / q5_k_m against llama_model_quantize's Q4_K_M / Q5_K_M (its own per-tensor mix,
        # no imatrix) on BERTs written by transformers from a config, 384 wide (all-MiniLM-L6-v2's shape: rows that
        # are not multiples of 256 fall back) and 768 wide (bert-base's). Every tensor's type and bytes must agree.
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError:
            print("torch/transformers not installed: skipped the llama-quantize preset comparison")
        else:
            for hidden, intermediate, layers in [(384, 1536, 6), (768, 3072, 4)]:
                with check(f"{hidden}-wide BERT for the preset comparison"):
                    folder = os.path.join(work, f"bert-{hidden}")
                    subprocess.run([sys.executable, "-c", TRANSFORMERS_BERT, folder, str(hidden), str(intermediate), str(layers)], check=True)
                    f32 = os.path.join(work, f"bert-{hidden}-f32.gguf")
                    subprocess.run([binary, "convert", folder, f32], check=True, stdout=subprocess.DEVNULL)
                for preset, ftype in [("q4_k_m", 15), ("q5_k_m", 17)]:
                    with check(f"llama_model_quantize {preset} on the {hidden}-wide BERT"):
                        ours = os.path.join(work, f"bert-{hidden}-{preset}.gguf")
                        subprocess.run([binary, "convert", folder, ours, "--preset", preset, "--no-quality"], check=True,
                                       stdout=subprocess.DEVNULL)
                        params = llama_cpp.llama_model_quantize_default_params()
                        params.ftype, params.nthread = ftype, 2
                        theirs = os.path.join(work, f"bert-{hidden}-{preset}-llama.gguf")
                        assert llama_cpp.llama_model_quantize(f32.encode(), theirs.encode(), ctypes.byref(params)) == 0
                        a = {t.name: t for t in gguf.GGUFReader(ours).tensors}
                        b = {t.name: t for t in gguf.GGUFReader(theirs).tensors}
                        assert set(a) == set(b), set(a) ^ set(b)
                        for name, t in b.items():
                            assert a[name].tensor_type == t.tensor_type, (hidden, preset, name, a[name].tensor_type.name, t.tensor_type.name)
                            assert a[name].data.tobytes() == t.data.tobytes(), (hidden, preset, name)
                        mix = {}
                        for t in b.values():
                            mix[t.tensor_type.name] = mix.get(t.tensor_type.name, 0) + 1
                        print(f"llama_model_quantize {preset.upper()} on a {hidden}-wide {layers}-layer BERT: all {len(b)} tensors "
                              f"of the same type and bytes as modelport --preset {preset} ({', '.join(f'{n} {k}' for k, n in sorted(mix.items()))})")

    try:
        import torch
        from transformers import AutoModel
    except ImportError:
        print("torch/transformers not installed: skipped the transformers load check")
        return
    # torch.load(weights_only=True) reads ModelPort's pytorch_model.bin: from safetensors, from TF, from views.
    pt_jobs = {"pt-bert": (os.path.join(HERE, "bert-tiny"), os.path.join(HERE, "bert-tiny", "model.safetensors")),
               "pt-from-tf": (os.path.join(HERE, "tensorflow", "bert-tiny-tf1"),
                              os.path.join(HERE, "tensorflow", "bert-tiny-tf1.reference.safetensors")),
               "pt-views": (os.path.join(HERE, "pytorch", "views.bin"), os.path.join(HERE, "pytorch", "views.reference.safetensors"))}
    from safetensors.torch import load_file as torch_load_file
    for name, (source, reference) in pt_jobs.items():
        with check(f"torch.load reads {name}"):
            out = os.path.join(work, name + ".bin")
            subprocess.run([binary, "convert", source, out], check=True, stdout=subprocess.DEVNULL)
            got, expected = torch.load(out, weights_only=True), torch_load_file(reference)
            assert list(got) == list(got) and set(got) == set(expected), name
            for key, value in expected.items():
                a, b = got[key], value
                assert a.dtype == b.dtype and a.shape == b.shape, (name, key)
                assert a.numel() == 0 or torch.equal(a.reshape(-1).view(torch.uint8), b.reshape(-1).view(torch.uint8)), (name, key)
            print(f"torch.load(weights_only=True) reads {name}: {len(got)} tensors, bit-identical")
    for name in tf_jobs:
        with check(f"transformers loads tf-{name}"):
            folder = os.path.join(work, "tf-" + name)
            model, info = AutoModel.from_pretrained(folder, output_loading_info=True)
            assert not info["missing_keys"], (name, info)
            print(f"transformers loads tf-{name} as {type(model).__name__}: no missing keys"
                  + (f", {len(info['unexpected_keys'])} head tensors unused by the bare model" if info["unexpected_keys"] else ""))
    golden = load_file(os.path.join(HERE, "golden", "bert-tiny.safetensors"))
    for name in jobs:
        with check(f"transformers loads {name}"):
            model, info = AutoModel.from_pretrained(os.path.join(work, name), output_loading_info=True)
            missing = [k for k in info["missing_keys"]]
            assert not missing and not info["unexpected_keys"], (name, info)
            if name in ("same", "sharded"):
                with torch.no_grad():
                    result = model.eval()(input_ids=torch.from_numpy(golden["input_ids"]),
                                          token_type_ids=torch.from_numpy(golden["token_type_ids"]),
                                          attention_mask=torch.from_numpy(golden["attention_mask"]))
                gap = np.abs(result.last_hidden_state.numpy() - golden["last_hidden_state"]).max()
                # A framework's float results depend on its kernels (CPU, torch build): compared with a tolerance. Our own
                # bytes are compared exactly elsewhere (the weights above are bit-identical).
                assert gap <= FLOAT_TOLERANCE, (name, gap)
                print(f"transformers loads {name}: no missing/unexpected keys, last_hidden_state max gap {gap}")
            else:
                print(f"transformers loads {name}: no missing/unexpected keys, {model.config.num_hidden_layers} layers, dtype {model.dtype}")

    # compressed-tensors: transformers loads ModelPort's int8 folder, decompresses it, and runs it close to the f32 model.
    try:
        import compressed_tensors  # noqa: F401
    except ImportError:
        print("compressed-tensors not installed: skipped the int8 load check")
        return
    out = os.path.join(work, "int8")
    with check("transformers + compressed-tensors load the int8 folder"):
        subprocess.run([binary, "convert", os.path.join(HERE, "bert-tiny"), out, "--dtype", "int8", "--no-quality"], check=True,
                       stdout=subprocess.DEVNULL)
        model, info = AutoModel.from_pretrained(out, output_loading_info=True)
        assert not info["missing_keys"] and not info["unexpected_keys"], info
        with torch.no_grad():
            result = model.eval()(input_ids=torch.from_numpy(golden["input_ids"]),
                                  token_type_ids=torch.from_numpy(golden["token_type_ids"]),
                                  attention_mask=torch.from_numpy(golden["attention_mask"]))
        a, b = result.last_hidden_state.reshape(-1), torch.from_numpy(golden["last_hidden_state"]).reshape(-1)
        cosine = torch.nn.functional.cosine_similarity(a, b, dim=0).item()
        assert cosine > 0.9999, cosine
        print(f"transformers + compressed-tensors load the int8 folder: no missing/unexpected keys, cosine {cosine:.6f}, "
              f"max gap {(a - b).abs().max().item():.2e} against the f32 golden")


if __name__ == "__main__":
    main()
    if FAILURES:
        print(f"{len(FAILURES)} check(s) failed: " + "; ".join(FAILURES), file=sys.stderr)
        sys.exit(1)
    print("all checks passed")
