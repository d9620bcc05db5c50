#!/usr/bin/env python3
"""Writes ModelPort's fixtures with the real frameworks (versions pinned in requirements.txt).

Run from the repository root as `make samples`. Everything written here is committed, so the Swift tests
never need Python. Output is deterministic (fixed seeds), so rerunning it changes nothing.

Layout:
  bert-tiny/                 transformers BertModel (4 layers, hidden 32) saved with save_pretrained + tokenizer
  bert-tiny-sharded/         the same weights saved with max_shard_size (index + shards)
  golden/bert-tiny.safetensors   inputs and every layer's hidden state from PyTorch
  safetensors/reference.safetensors      one tensor of each dtype, written by the safetensors package
  safetensors/reference-names.safetensors  awkward names (non-ASCII, empty and scalar tensors)
  casts/float-casts.safetensors  f32/f64 edge values and PyTorch's f16/bf16/f32 casts of them
  broken/safetensors/*.safetensors  files that break one rule of the format each (checked against the
                                    reference reader, which must reject them too)
"""
import json
import os
import shutil
import struct
import sys

import numpy as np
import torch
import safetensors
from safetensors.torch import save_file, load_file
from safetensors import safe_open

HERE = os.path.dirname(os.path.abspath(__file__))


def path(*parts):
    p = os.path.join(HERE, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


def fresh_dir(*parts):
    d = os.path.join(HERE, *parts)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


# ---------------------------------------------------------------------------------------------------------
# Tiny BERT
# ---------------------------------------------------------------------------------------------------------

def bert_tiny():
    from transformers import BertConfig, BertModel, BertTokenizer

    torch.manual_seed(0)
    vocab = os.path.join(HERE, "vocab-tiny.txt")
    n_vocab = sum(1 for _ in open(vocab, encoding="utf-8"))
    config = BertConfig(
        vocab_size=n_vocab, hidden_size=32, num_hidden_layers=4, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=64, type_vocab_size=2,
    )
    model = BertModel(config).eval()
    # Random init gives LayerNorm weight=1, bias=0; perturb them so tests can tell tensors apart.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name:
                p.add_(torch.randn_like(p) * 0.1)

    out = fresh_dir("bert-tiny")
    model.save_pretrained(out)
    tokenizer = BertTokenizer(vocab, do_lower_case=True, tokenize_chinese_chars=True)
    tokenizer.save_pretrained(out)
    shutil.copy(vocab, os.path.join(out, "vocab.txt"))  # transformers 5 writes tokenizer.json only

    sharded = fresh_dir("bert-tiny-sharded")
    model.save_pretrained(sharded, max_shard_size="20KB")
    shutil.copy(vocab, os.path.join(sharded, "vocab.txt"))

    # Golden outputs: two sequences, the second padded.
    texts = ["the model is fast and safe", "我们的模型"]
    enc = tokenizer(texts, padding="max_length", max_length=12, return_tensors="pt")
    with torch.no_grad():
        result = model(**enc, output_hidden_states=True)
    golden = {
        "input_ids": enc["input_ids"].to(torch.int64).contiguous(),
        "token_type_ids": enc["token_type_ids"].to(torch.int64).contiguous(),
        "attention_mask": enc["attention_mask"].to(torch.int64).contiguous(),
        "last_hidden_state": result.last_hidden_state.clone(),
        "pooler_output": result.pooler_output.clone(),
    }
    for i, h in enumerate(result.hidden_states):
        golden[f"hidden_states.{i}"] = h.clone()
    save_file(golden, path("golden", "bert-tiny.safetensors"),
              # One key: the reference writer orders metadata keys by a hash map, which varies between runs.
              metadata={"info": json.dumps({"model": "bert-tiny", "texts": texts, "torch": torch.__version__,
                                            "transformers": __import__("transformers").__version__},
                                           ensure_ascii=False, sort_keys=True)})


# ---------------------------------------------------------------------------------------------------------
# safetensors byte-identity references
# ---------------------------------------------------------------------------------------------------------

# The values every reference tensor holds, so the Swift tests can rebuild them independently:
#   floats: ((i % 17) * 0.25 - 2.0), exact in every float type here
#   signed ints: (i % 200) - 100;   unsigned: i % 200;   bool: i % 3 == 0
def pattern(dtype, shape):
    n = int(np.prod(shape)) if shape else 1
    i = torch.arange(n, dtype=torch.int64)
    if dtype == torch.bool:
        v = (i % 3) == 0
    elif dtype.is_floating_point:
        v = ((i % 17).to(torch.float64) * 0.25 - 2.0).to(dtype)
    elif dtype in (torch.uint8, torch.uint16, torch.uint32, torch.uint64):
        v = (i % 200).to(dtype)
    else:
        v = ((i % 200) - 100).to(dtype)
    return v.reshape(shape)


REFERENCE_TENSORS = [
    ("f64", torch.float64, [3, 5]),
    ("f32.weight", torch.float32, [4, 8]),
    ("f16", torch.float16, [7]),
    ("bf16", torch.bfloat16, [2, 3, 4]),
    ("f8_e4m3", torch.float8_e4m3fn, [9]),
    ("f8_e5m2", torch.float8_e5m2, [9]),
    ("i64", torch.int64, [6]),
    ("i32", torch.int32, [2, 2]),
    ("i16", torch.int16, [5]),
    ("i8", torch.int8, [11]),
    ("u8", torch.uint8, [13]),
    ("u16", torch.uint16, [3]),
    ("u32", torch.uint32, [3]),
    ("u64", torch.uint64, [3]),
    ("bool", torch.bool, [10]),
]

NAME_TENSORS = [
    ("émbed", torch.float32, [2, 2]),
    ("Zeta", torch.float32, [3]),
    ("alpha", torch.float32, [3]),
    ("empty", torch.float32, [0, 4]),
    ("scalar", torch.float32, []),
    ("quote\"back\\slash", torch.float16, [2]),
    ("tab\tnew\nline", torch.int8, [1]),
]


def safetensors_references():
    tensors = {name: pattern(dt, shape) for name, dt, shape in REFERENCE_TENSORS}
    save_file(tensors, path("safetensors", "reference.safetensors"), metadata={"format": "pt"})
    tensors = {name: pattern(dt, shape) for name, dt, shape in NAME_TENSORS}
    save_file(tensors, path("safetensors", "reference-names.safetensors"),
              metadata={"format": "pt"})
    manifest = {
        "pattern": "floats (i % 17) * 0.25 - 2.0; signed (i % 200) - 100; unsigned i % 200; bool i % 3 == 0",
        "reference.safetensors": {"metadata": {"format": "pt"},
                                  "tensors": [[n, str(d).replace("torch.", ""), s] for n, d, s in REFERENCE_TENSORS]},
        "reference-names.safetensors": {"metadata": {"format": "pt"},
                                        "tensors": [[n, str(d).replace("torch.", ""), s] for n, d, s in NAME_TENSORS]},
    }
    with open(path("safetensors", "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------------------------------------------------
# Float casts as PyTorch computes them
# ---------------------------------------------------------------------------------------------------------

def float_casts():
    g = torch.Generator().manual_seed(1)
    edge = torch.tensor([
        0.0, -0.0, 1.0, -1.0, 65504.0, 65519.99, 65520.0, -65520.0, 1e10, -1e10, 6.1e-5, 6.103515625e-05,
        5.960464477539063e-08, 2.98023223876953125e-08, 2.9802326e-08, 1e-8, 1e-40, -1e-40, 3.4028235e38,
        1.00048828125, 1.00146484375, 1.0009765625, 0.333333, float("inf"), float("-inf"),
        1.00390625, 1.01171875, 1.0078125, 3.0e-39, 1.1754944e-38,
    ], dtype=torch.float32)
    bits = torch.randint(0, 2**31 - 1, (2048,), generator=g, dtype=torch.int64).to(torch.int32)
    random_bits = bits.view(torch.float32)
    random_bits = random_bits[torch.isfinite(random_bits)]
    f32 = torch.cat([edge, torch.randn(4096, generator=g) * 3, torch.randn(1024, generator=g) * 1e-5,
                     torch.randn(512, generator=g) * 7e4, random_bits, -random_bits]).contiguous()
    f64 = torch.cat([torch.randn(2048, generator=g, dtype=torch.float64) * 10,
                     torch.tensor([1.0 + 2**-24, 1.0 + 2**-24 + 2**-40, 1e300, -1e-300], dtype=torch.float64)])
    casts = {
        "f32": f32,
        "f32_to_f16": f32.to(torch.float16),
        "f32_to_bf16": f32.to(torch.bfloat16),
        "f16_to_f32": f32.to(torch.float16).to(torch.float32),
        "bf16_to_f32": f32.to(torch.bfloat16).to(torch.float32),
        "f64": f64,
        "f64_to_f32": f64.to(torch.float32),
        "f64_to_f16": f64.to(torch.float32).to(torch.float16),
    }
    save_file({k: v.contiguous() for k, v in casts.items()}, path("casts", "float-casts.safetensors"),
              metadata={"torch": torch.__version__})


# ---------------------------------------------------------------------------------------------------------
# Broken safetensors: each breaks one rule; the reference reader must reject each one too.
# ---------------------------------------------------------------------------------------------------------

def raw_file(header_text, data, length=None):
    header = header_text.encode("utf-8") if isinstance(header_text, str) else header_text
    n = len(header) if length is None else length
    return struct.pack("<Q", n) + header + data


def broken_safetensors():
    out = fresh_dir("broken", "safetensors")
    good = os.path.join(HERE, "safetensors", "reference.safetensors")
    blob = open(good, "rb").read()
    n = struct.unpack("<Q", blob[:8])[0]
    eight = struct.pack("<2f", 1.0, 2.0)

    def entry(dtype, shape, begin, end):
        return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}

    cases = {
        "too-small": blob[:5],
        "truncated": blob[:-3],
        "header-past-end": struct.pack("<Q", len(blob)) + blob[8:],
        "header-too-large": struct.pack("<Q", 1 << 40) + blob[8:],
        "overlap": raw_file(json.dumps({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 4, 12)}), eight + b"\0" * 4),
        "gap": raw_file(json.dumps({"a": entry("F32", [1], 0, 4), "b": entry("F32", [1], 8, 12)}), b"\0" * 12),
        "offset-out-of-range": raw_file(json.dumps({"a": entry("F32", [2], 0, 8), "b": entry("F32", [2], 8, 16)}), eight),
        "trailing-bytes": raw_file(json.dumps({"a": entry("F32", [2], 0, 8)}), eight + b"junk"),
        "size-mismatch": raw_file(json.dumps({"a": entry("F32", [3], 0, 8)}), eight),
        "unknown-dtype": raw_file(json.dumps({"a": entry("F33", [2], 0, 8)}), eight),
        "shape-overflow": raw_file(json.dumps({"a": entry("F32", [1 << 40, 1 << 40, 1 << 40], 0, 8)}), eight),
        "negative-offset": raw_file('{"a":{"dtype":"F32","shape":[2],"data_offsets":[-8,0]}}', eight),
        "non-utf8": raw_file(b'{"a\xff":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', eight),
        "non-object": raw_file("[1, 2, 3]", b""),
        "invalid-json": raw_file('{"a":{"dtype":"F32","shape":[2],', eight),
        "duplicate-name": raw_file('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},'
                                   '"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', eight),
        "metadata-not-string": raw_file(json.dumps({"__metadata__": {"format": 1}, "a": entry("F32", [2], 0, 8)}), eight),
        "nul-padded-header": raw_file(json.dumps({"a": entry("F32", [2], 0, 8)}) + "\0\0\0", eight),
        "deep-nesting": raw_file("[" * 5000 + "]" * 5000, b""),
    }
    for name, data in cases.items():
        p = os.path.join(out, name + ".safetensors")
        with open(p, "wb") as f:
            f.write(data)
        try:
            with safe_open(p, framework="pt") as f:
                for k in f.keys():
                    f.get_tensor(k)
            accepted = True
        except Exception:
            accepted = False
        if accepted and name != "duplicate-name":
            sys.exit(f"reference reader accepted broken fixture {name}")
        # duplicate-name: the reference reader keeps the last duplicate and then sees a gap, so it also fails;
        # ModelPort rejects the duplicate key itself.


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, safetensors {safetensors.__version__}, numpy {np.__version__}")
    bert_tiny()
    safetensors_references()
    float_casts()
    broken_safetensors()
    print("samples written to", HERE)


if __name__ == "__main__":
    main()
