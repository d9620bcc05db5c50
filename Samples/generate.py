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
  gguf/kquant-reference.safetensors  ggml's own Q4_K/Q5_K/Q6_K bytes (llama-cpp-python's libggml via ctypes)
  packed/reference.safetensors       compressed-tensors' int8 per-channel and mlx.core.quantize's affine output
  tokenizers/                tokenizer folders (WordPiece, SentencePiece unigram, byte-level BPE, Perceiver bytes) trained
                             on a multi-script corpus, transformers' ids for it (<kind>.json), tiny RoBERTa / ALBERT
                             models beside their tokenizers with golden hidden states (<kind>.golden.safetensors)
  keras-flax/                tf_model.h5 / flax_model.msgpack (one sharded) written by transformers 4.46.3's TF and
                             Flax classes from seeded PyTorch models, with those models as reference/*.safetensors;
                             Keras 3 files and broken HDF5 / msgpack files (needs .venv-tf4 / .venv-flax4, see
                             Samples/keras_flax_writer.py)
  onnx/                      optimum-style torch.onnx exports (NAME-optimum/: model.onnx + config + tokenizer) beside
                             the same models' safetensors folders (NAME/); masked-LM / pre-training sources (needs
                             the onnx package of requirements-onnx.txt, else skipped)
  paddle/                    PaddleNLP .pdparams; static-graph layouts (PaddleHub 1.x, inference models, static.save);
                             a paddle.jit.save export (.pdiparams.info) with its transformers reference

`python Samples/generate.py GROUP...` regenerates single groups (e.g. `kquant_references packed_references`);
llama-cpp-python, mlx and compressed-tensors are optional (their groups are skipped when missing).
"""
import json
import os
import pickle
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



# ---------------------------------------------------------------------------------------------------------
# TensorFlow checkpoints with Google's BERT / ALBERT variable names
# ---------------------------------------------------------------------------------------------------------

def google_bert_names(hf_names, prefix=""):
    """HF BertModel / BertForPreTraining name → (Google TF1 name, transpose?)."""
    out = {}
    for name in hf_names:
        n = name[len(prefix):] if prefix and name.startswith(prefix) else name
        if n.startswith("cls."):
            tf = {"cls.predictions.transform.dense.weight": "cls/predictions/transform/dense/kernel",
                  "cls.predictions.transform.dense.bias": "cls/predictions/transform/dense/bias",
                  "cls.predictions.transform.LayerNorm.weight": "cls/predictions/transform/LayerNorm/gamma",
                  "cls.predictions.transform.LayerNorm.bias": "cls/predictions/transform/LayerNorm/beta",
                  "cls.predictions.bias": "cls/predictions/output_bias",
                  "cls.seq_relationship.weight": "cls/seq_relationship/output_weights",
                  "cls.seq_relationship.bias": "cls/seq_relationship/output_bias"}.get(n)
            if tf:
                out[name] = (tf, n == "cls.predictions.transform.dense.weight")
            continue
        parts = n.split(".")
        tf_parts = ["bert"]
        for p in parts:
            if p.isdigit():
                tf_parts[-1] = tf_parts[-1] + "_" + p
            else:
                tf_parts.append(p)
        leaf = tf_parts[-1]
        transpose = False
        if "embeddings" in tf_parts[-2] and tf_parts[-2] != "embeddings" and leaf == "weight":
            tf_parts = tf_parts[:-1]  # bert/embeddings/word_embeddings
        elif tf_parts[-2] == "LayerNorm":
            tf_parts[-1] = {"weight": "gamma", "bias": "beta"}[leaf]
        elif leaf == "weight":
            tf_parts[-1] = "kernel"
            transpose = True
        out[name] = ("/".join(tf_parts), transpose)
    return out


def to_tf_value(array, transpose):
    return np.ascontiguousarray(array.T) if transpose else array


def write_tf1_checkpoint(prefix, variables, extra=None, partitioned=(), devices=1):
    """Saves {tf_name: ndarray} with tf.compat.v1.train.Saver; adds adam slots and global_step like Google BERT."""
    import tensorflow as tf
    graph = tf.Graph()
    with graph.as_default():
        created = []
        for i, (name, value) in enumerate(variables.items()):
            device = f"/cpu:{i % devices}"
            with tf.device(device):
                if name in partitioned:
                    v = tf.compat.v1.get_variable(name, initializer=tf.constant(value),
                                                  partitioner=tf.compat.v1.fixed_size_partitioner(3))
                else:
                    v = tf.compat.v1.get_variable(name, initializer=tf.constant(value))
            created.append(v)
        for name, value in (extra or {}).items():
            tf.compat.v1.get_variable(name, initializer=tf.constant(value))
        saver = tf.compat.v1.train.Saver(sharded=devices > 1)
        with tf.compat.v1.Session(graph=graph, config=tf.compat.v1.ConfigProto(device_count={"CPU": devices})) as sess:
            sess.run(tf.compat.v1.global_variables_initializer())
            saver.save(sess, prefix, write_meta_graph=False)
    # The Saver records absolute paths; keep the committed 'checkpoint' file relative to its folder.
    state = os.path.join(os.path.dirname(prefix), "checkpoint")
    name = os.path.basename(prefix)
    with open(state, "w") as f:
        f.write(f'model_checkpoint_path: "{name}"\nall_model_checkpoint_paths: "{name}"\n')


def adam_slots(variables, seed):
    rng = np.random.default_rng(seed)
    extra = {"global_step": np.array(1000, dtype=np.int64)}
    for name, value in variables.items():
        extra[name + "/adam_m"] = rng.standard_normal(value.shape).astype(np.float32) * 1e-3
        extra[name + "/adam_v"] = np.abs(rng.standard_normal(value.shape).astype(np.float32)) * 1e-6
    return extra


def tensorflow_checkpoints():
    import tensorflow as tf
    from safetensors.numpy import load_file as np_load, save_file as np_save
    tf.config.set_visible_devices([], "GPU")
    physical = tf.config.list_physical_devices("CPU")
    base = np_load(os.path.join(HERE, "bert-tiny", "model.safetensors"))
    config = json.load(open(os.path.join(HERE, "bert-tiny", "config.json")))
    google_config = {k: config[k] for k in ("attention_probs_dropout_prob", "hidden_act", "hidden_dropout_prob",
                                            "hidden_size", "initializer_range", "intermediate_size",
                                            "max_position_embeddings", "num_attention_heads", "num_hidden_layers",
                                            "type_vocab_size", "vocab_size")}

    # BertForPreTraining layout: bert.* plus the MLM and NSP heads (random, so they can be told apart).
    rng = np.random.default_rng(5)
    hidden, vocab = config["hidden_size"], config["vocab_size"]
    reference = {"bert." + k: v for k, v in base.items()}
    reference.update({
        "cls.predictions.transform.dense.weight": rng.standard_normal((hidden, hidden)).astype(np.float32) * 0.02,
        "cls.predictions.transform.dense.bias": rng.standard_normal(hidden).astype(np.float32) * 0.02,
        "cls.predictions.transform.LayerNorm.weight": 1 + rng.standard_normal(hidden).astype(np.float32) * 0.1,
        "cls.predictions.transform.LayerNorm.bias": rng.standard_normal(hidden).astype(np.float32) * 0.1,
        "cls.predictions.bias": rng.standard_normal(vocab).astype(np.float32) * 0.02,
        "cls.seq_relationship.weight": rng.standard_normal((2, hidden)).astype(np.float32) * 0.02,
        "cls.seq_relationship.bias": rng.standard_normal(2).astype(np.float32) * 0.02,
    })
    names = google_bert_names(reference.keys(), prefix="bert.")
    variables = {names[k][0]: to_tf_value(v, names[k][1]) for k, v in reference.items()}

    def folder(name, cfg_name="bert_config.json", cfg=google_config):
        d = fresh_dir("tensorflow", name)
        with open(os.path.join(d, cfg_name), "w") as f:
            json.dump(cfg, f, indent=2)
        shutil.copy(os.path.join(HERE, "vocab-tiny.txt"), os.path.join(d, "vocab.txt"))
        return d

    # 1. Google BERT TF1 checkpoint with heads, Adam slots and global_step (as run_pretraining.py leaves it).
    d = folder("bert-tiny-tf1")
    write_tf1_checkpoint(os.path.join(d, "bert_model.ckpt"), variables, extra=adam_slots(variables, 6))
    np_save({k: np.ascontiguousarray(v) for k, v in reference.items()}, path("tensorflow", "bert-tiny-tf1.reference.safetensors"),
            metadata={"format": "pt"})

    # 2. Sharded (two devices → two data shards) with a partitioned word embedding; base model only.
    tf.config.set_logical_device_configuration(physical[0], [tf.config.LogicalDeviceConfiguration()] * 2)
    base_names = google_bert_names(base.keys())
    base_vars = {base_names[k][0]: to_tf_value(v, base_names[k][1]) for k, v in base.items()}
    d = folder("bert-tiny-sharded")
    write_tf1_checkpoint(os.path.join(d, "bert_model.ckpt"), base_vars, devices=2,
                         partitioned=("bert/embeddings/word_embeddings",))

    # 3. TF2 object-based checkpoint (tf.train.Checkpoint): keys are object paths, full_name gives TF1 names.
    d = folder("bert-tiny-tf2")
    root = tf.Module()
    root.layers = [tf.Variable(value, name=name) for name, value in base_vars.items()]
    tf.train.Checkpoint(model=root).write(os.path.join(d, "ckpt-1"))

    # 4. Google ALBERT TF1 checkpoint.
    albert_checkpoint()


def tensorflow_unnamed_tf2():
    """bert-tiny as a TF2 object-based checkpoint whose variables have no names: a tree of tf.Module mirroring
    Google BERT's scopes (`bert/encoder/layer_0/attention/self/query/kernel`) with a bare tf.Variable(value) at each
    leaf, saved by tf.train.Checkpoint(root). Every variable's full_name is then "Variable"; only the object-graph
    path tells them apart."""
    import tensorflow as tf
    from safetensors.numpy import load_file as np_load
    base = np_load(os.path.join(HERE, "bert-tiny", "model.safetensors"))
    config = json.load(open(os.path.join(HERE, "bert-tiny", "config.json")))
    names = google_bert_names(base.keys())
    root = tf.Module()
    for key, value in base.items():
        tf_name, transpose = names[key]
        node = root
        *scopes, leaf = tf_name.split("/")
        for scope in scopes:
            if not hasattr(node, scope):
                setattr(node, scope, tf.Module())
            node = getattr(node, scope)
        setattr(node, leaf, tf.Variable(to_tf_value(value, transpose)))
    d = fresh_dir("tensorflow", "bert-tiny-tf2-unnamed")
    tf.train.Checkpoint(root).write(os.path.join(d, "ckpt-1"))
    with open(os.path.join(d, "bert_config.json"), "w") as f:
        json.dump({k: config[k] for k in ("attention_probs_dropout_prob", "hidden_act", "hidden_dropout_prob", "hidden_size",
                                          "initializer_range", "intermediate_size", "max_position_embeddings",
                                          "num_attention_heads", "num_hidden_layers", "type_vocab_size", "vocab_size")},
                  f, indent=2)
    shutil.copy(os.path.join(HERE, "vocab-tiny.txt"), os.path.join(d, "vocab.txt"))


def google_albert_names(prefix=""):
    """Hugging Face ALBERT names (under `prefix`, e.g. "albert." in task models) → Google's TF1 names and whether
    the tensor is a transposed kernel: one shared layer group, as ALBERT's run_pretraining.py saves it."""
    layer = prefix + "encoder.albert_layer_groups.0.albert_layers.0."
    g = "bert/encoder/transformer/group_0/inner_group_0/"
    return {
        prefix + "embeddings.word_embeddings.weight": ("bert/embeddings/word_embeddings", False),
        prefix + "embeddings.position_embeddings.weight": ("bert/embeddings/position_embeddings", False),
        prefix + "embeddings.token_type_embeddings.weight": ("bert/embeddings/token_type_embeddings", False),
        prefix + "embeddings.LayerNorm.weight": ("bert/embeddings/LayerNorm/gamma", False),
        prefix + "embeddings.LayerNorm.bias": ("bert/embeddings/LayerNorm/beta", False),
        prefix + "encoder.embedding_hidden_mapping_in.weight": ("bert/encoder/embedding_hidden_mapping_in/kernel", True),
        prefix + "encoder.embedding_hidden_mapping_in.bias": ("bert/encoder/embedding_hidden_mapping_in/bias", False),
        layer + "attention.query.weight": (g + "attention_1/self/query/kernel", True),
        layer + "attention.query.bias": (g + "attention_1/self/query/bias", False),
        layer + "attention.key.weight": (g + "attention_1/self/key/kernel", True),
        layer + "attention.key.bias": (g + "attention_1/self/key/bias", False),
        layer + "attention.value.weight": (g + "attention_1/self/value/kernel", True),
        layer + "attention.value.bias": (g + "attention_1/self/value/bias", False),
        layer + "attention.dense.weight": (g + "attention_1/output/dense/kernel", True),
        layer + "attention.dense.bias": (g + "attention_1/output/dense/bias", False),
        layer + "attention.LayerNorm.weight": (g + "LayerNorm/gamma", False),
        layer + "attention.LayerNorm.bias": (g + "LayerNorm/beta", False),
        layer + "ffn.weight": (g + "ffn_1/intermediate/dense/kernel", True),
        layer + "ffn.bias": (g + "ffn_1/intermediate/dense/bias", False),
        layer + "ffn_output.weight": (g + "ffn_1/intermediate/output/dense/kernel", True),
        layer + "ffn_output.bias": (g + "ffn_1/intermediate/output/dense/bias", False),
        layer + "full_layer_layer_norm.weight": (g + "LayerNorm_1/gamma", False),
        layer + "full_layer_layer_norm.bias": (g + "LayerNorm_1/beta", False),
        prefix + "pooler.weight": ("bert/pooler/dense/kernel", True),
        prefix + "pooler.bias": ("bert/pooler/dense/bias", False),
    }


def albert_checkpoint():
    import torch
    from transformers import AlbertConfig, AlbertModel
    from safetensors.numpy import save_file as np_save
    torch.manual_seed(3)
    n_vocab = sum(1 for _ in open(os.path.join(HERE, "vocab-tiny.txt"), encoding="utf-8"))
    config = AlbertConfig(vocab_size=n_vocab, embedding_size=16, hidden_size=32, num_hidden_layers=3,
                          num_attention_heads=4, intermediate_size=64, max_position_embeddings=64,
                          hidden_act="gelu_new")
    model = AlbertModel(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    state = {k: v.numpy().copy() for k, v in model.state_dict().items() if "position_ids" not in k and "token_type_ids" not in k}
    table = google_albert_names()
    assert set(table) == set(state), set(state) ^ set(table)
    variables = {tf: to_tf_value(state[hf], t) for hf, (tf, t) in table.items()}
    d = fresh_dir("tensorflow", "albert-tiny-tf1")
    write_tf1_checkpoint(os.path.join(d, "model.ckpt-100"), variables, extra=adam_slots(variables, 8))
    google = {"attention_probs_dropout_prob": 0, "hidden_act": "gelu", "hidden_dropout_prob": 0,
              "embedding_size": 16, "hidden_size": 32, "initializer_range": 0.02, "intermediate_size": 64,
              "max_position_embeddings": 64, "num_attention_heads": 4, "num_hidden_layers": 3,
              "num_hidden_groups": 1, "net_structure_type": 0, "gap_size": 0, "num_memory_blocks": 0,
              "inner_group_num": 1, "down_scale_factor": 1, "type_vocab_size": 2, "vocab_size": n_vocab}
    with open(os.path.join(d, "albert_config.json"), "w") as f:
        json.dump(google, f, indent=2)
    shutil.copy(os.path.join(HERE, "vocab-tiny.txt"), os.path.join(d, "vocab.txt"))
    np_save(state, path("tensorflow", "albert-tiny-tf1.reference.safetensors"), metadata={"format": "pt"})


def crc32c(data, crc=0):
    table = crc32c.table
    c = crc ^ 0xFFFFFFFF
    for b in data:
        c = table[(c ^ b) & 0xFF] ^ (c >> 8)
    return c ^ 0xFFFFFFFF


def _crc_table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


crc32c.table = _crc_table()


def masked(c):
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


def varint(data, pos):
    value, shift = 0, 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos += 1
        if b < 0x80:
            return value, pos
        shift += 7


def data_block_handles(index):
    """(offset, size) of every data block of a TF .index table."""
    footer = index[-48:]
    _, p = varint(footer, 0)
    _, p = varint(footer, p)
    off, p = varint(footer, p)
    size, _ = varint(footer, p)
    block = index[off:off + size]
    restarts = struct.unpack("<I", block[-4:])[0]
    end = len(block) - 4 * (restarts + 1)
    pos, handles = 0, []
    while pos < end:
        shared, pos = varint(block, pos)
        unshared, pos = varint(block, pos)
        vlen, pos = varint(block, pos)
        pos += unshared
        h_off, q = varint(block, pos)
        h_size, _ = varint(block, q)
        handles.append((h_off, h_size))
        pos += vlen
    return handles


def fix_block_crcs(index):
    index = bytearray(index)
    for off, size in data_block_handles(bytes(index)):
        crc = masked(crc32c(bytes(index[off:off + size + 1])))
        index[off + size + 1:off + size + 5] = struct.pack("<I", crc)
    return bytes(index)


def broken_tensorflow():
    rng = np.random.default_rng(11)
    base = {"bert/embeddings/position_embeddings": rng.standard_normal((16, 8)).astype(np.float32),
            "bert/encoder/layer_0/output/dense/kernel": rng.standard_normal((8, 8)).astype(np.float32),
            "bert/pooler/dense/bias": rng.standard_normal(8).astype(np.float32)}
    root = fresh_dir("broken", "tensorflow")
    good = os.path.join(root, "good")
    os.makedirs(good)
    write_tf1_checkpoint(os.path.join(good, "model.ckpt"), base, devices=2)
    files = {n: open(os.path.join(good, n), "rb").read() for n in os.listdir(good) if n.startswith("model.ckpt")}
    index = files["model.ckpt.index"]

    def case(name, replace=None, drop=()):
        d = os.path.join(root, name)
        os.makedirs(d)
        for n, data in files.items():
            if n in drop:
                continue
            with open(os.path.join(d, n), "wb") as f:
                f.write((replace or {}).get(n, data))

    case("truncated-index", {"model.ckpt.index": index[: len(index) // 2]})
    flipped = bytearray(index)
    flipped[20] ^= 0x01  # inside the first data block: its checksum no longer matches
    case("flipped-index-byte", {"model.ckpt.index": bytes(flipped)})
    shard0 = "model.ckpt.data-00000-of-00002"
    data = bytearray(files[shard0])
    data[len(data) // 2] ^= 0x40
    case("flipped-tensor-byte", {shard0: bytes(data)})
    case("missing-shard", drop=("model.ckpt.data-00001-of-00002",))
    case("truncated-shard", {shard0: files[shard0][: len(files[shard0]) - 16]})
    # position_embeddings has shape [16, 8]: the dims are varints 0x10 and 0x08. Make the first 127 (0x7F,
    # still one byte) and re-checksum the block, so only the shape/size rule is broken.
    key = b"position_embeddings"
    at = index.index(key) + len(key)
    dims = index.index(bytes([0x12, 0x02, 0x08, 0x10]), at)
    shaped = bytearray(index)
    shaped[dims + 3] = 0x7F
    case("shape-size-mismatch", {"model.ckpt.index": fix_block_crcs(bytes(shaped))})
    # The first data block marked Snappy-compressed (type byte 1), with a checksum that matches.
    snappy = bytearray(index)
    off, size = data_block_handles(index)[0]
    snappy[off + size] = 1
    case("snappy-block", {"model.ckpt.index": fix_block_crcs(bytes(snappy))})
    # The header's num_shards (2) set to 127: the checkpoint then names shards that do not exist.
    header = bytearray(index)
    assert header[3:5] == bytes([0x08, 0x02])  # num_shards = 2
    header[4] = 0x7F
    case("wrong-num-shards", {"model.ckpt.index": fix_block_crcs(bytes(header))})
    shutil.rmtree(good)


def read_table(index):
    """Every (key, value) of a TF .index table, in order (blocks uncompressed, as TensorFlow writes them)."""
    entries = []
    for off, size in data_block_handles(index):
        block = index[off:off + size]
        restarts = struct.unpack("<I", block[-4:])[0]
        end = len(block) - 4 * (restarts + 1)
        pos, key = 0, b""
        while pos < end:
            shared, pos = varint(block, pos)
            unshared, pos = varint(block, pos)
            vlen, pos = varint(block, pos)
            key = key[:shared] + block[pos:pos + unshared]
            pos += unshared
            entries.append((key, block[pos:pos + vlen]))
            pos += vlen
    return entries


def put_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def table_block(entries, shared_prefix=False):
    """One table block (LevelDB format): entries, restart array, no trailer. With `shared_prefix`, each key after
    the first shares as much of the previous key as it can (one restart point)."""
    out, restarts, previous = bytearray(), [], b""
    for i, (key, value) in enumerate(entries):
        shared = 0
        if shared_prefix and i > 0:
            while shared < min(len(key), len(previous)) and key[shared] == previous[shared]:
                shared += 1
        else:
            restarts.append(len(out))
        out += put_varint(shared) + put_varint(len(key) - shared) + put_varint(len(value)) + key[shared:] + value
        previous = key
    for r in restarts or [0]:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts or [0]))
    return bytes(out)


def write_table(blocks, index_handles=None, shared_prefix=False):
    """A TF .index table from lists of (key, value) per data block. `index_handles(handles)` may rewrite the index
    block's list of (last key, (offset, size)) entries."""
    out, handles = bytearray(), []
    for entries in blocks:
        block = table_block(entries, shared_prefix)
        handles.append((entries[-1][0] if entries else b"", (len(out), len(block))))
        out += block + b"\x00" + struct.pack("<I", masked(crc32c(block + b"\x00")))
    if index_handles:
        handles = index_handles(handles)

    def add_block(block):
        at = len(out)
        out.extend(block + b"\x00" + struct.pack("<I", masked(crc32c(block + b"\x00"))))
        return put_varint(at) + put_varint(len(block))
    meta = add_block(table_block([]))
    index = add_block(table_block([(key, put_varint(o) + put_varint(n)) for key, (o, n) in handles]))
    footer = (meta + index).ljust(40, b"\x00") + struct.pack("<Q", 0xDB4775248B80FB57)
    return bytes(out + footer)


def hostile_tensorflow():
    """A partitioned TF1 checkpoint written by tf.compat.v1 Saver (w: [6, 4] in three slices of 2 rows), and its
    index rewritten (same entries, protos edited with TensorFlow's own BundleEntryProto) to break one rule each:
    a slice listed twice and another missing, a slice missing, shard_id out of range or negative, slice
    extents that overflow or start at INT64_MIN, a data block listed again by the index, and keys that prefix
    compression blows up."""
    from tensorflow.core.protobuf import tensor_bundle_pb2
    rng = np.random.default_rng(14)
    root = fresh_dir("broken", "tensorflow-hostile")
    good = os.path.join(root, "written-by-tf")
    os.makedirs(good)
    write_tf1_checkpoint(os.path.join(good, "model.ckpt"),
                         {"w": rng.standard_normal((6, 4)).astype(np.float32), "b": rng.standard_normal(4).astype(np.float32)},
                         partitioned=("w",))
    files = {n: open(os.path.join(good, n), "rb").read() for n in os.listdir(good)}
    entries = read_table(files["model.ckpt.index"])

    def case(name, new_entries=None, index=None):
        d = os.path.join(root, name)
        os.makedirs(d)
        for n, data in files.items():
            if n == "model.ckpt.index":
                data = index if index is not None else write_table([new_entries])
            with open(os.path.join(d, n), "wb") as f:
                f.write(data)

    def edited(key, change):
        out = []
        for k, v in entries:
            if k == key:
                proto = tensor_bundle_pb2.BundleEntryProto()
                proto.ParseFromString(v)
                change(proto)
                v = proto.SerializeToString()
            out.append((k, v))
        return out

    def slices(*rows):
        def change(proto):
            assert len(proto.slices) == 3
            kept = [proto.slices[i] for i in rows]
            copies = [type(s)() for s in kept]
            for c, s in zip(copies, kept):
                c.CopyFrom(s)
            del proto.slices[:]
            proto.slices.extend(copies)
        return change

    def extent(start, length):
        def change(proto):
            proto.slices[1].extent[0].start = start
            proto.slices[1].extent[0].length = length
        return change

    def shard(value):
        return lambda proto: setattr(proto, "shard_id", value)

    case("rewritten", entries)  # the table writer itself: this one must read as TensorFlow's own
    case("slice-repeated", edited(b"w", slices(0, 1, 1)))
    case("slice-missing", edited(b"w", slices(0, 2)))
    case("shard-id-out-of-range", edited(b"b", shard(7)))
    case("shard-id-negative", edited(b"b", shard(-1)))
    case("slice-extent-overflow", edited(b"w", extent(2, 2**63 - 1)))
    case("slice-start-int64-min", edited(b"w", extent(-2**63, 2)))
    # The index lists an empty data block 100 times before the real one: each listing used to be checksummed again.
    case("repeated-data-block", index=write_table([[], entries], index_handles=lambda h: [h[0]] * 100 + [h[1]]))
    # A 20 kB key, then 1000 keys sharing all but its last 3 bytes: 20 MB of keys from a 30 kB index.
    long = b"z" * 20_000
    blown = entries + [(long + bytes([i >> 16, (i >> 8) & 0xFF, i & 0xFF]), b"") for i in range(1000)]
    case("shared-key-blowup", index=write_table([blown], shared_prefix=True))
    shutil.rmtree(good)


# ---------------------------------------------------------------------------------------------------------
# PyTorch checkpoints: zip and legacy, the state-dict shapes seen in the wild, and hostile pickles
# ---------------------------------------------------------------------------------------------------------

def torch_state(path_):
    from safetensors.torch import load_file as t_load
    return t_load(path_)


def pytorch_checkpoints():
    import zipfile
    from transformers import RobertaConfig, RobertaModel, BertConfig, BertForPreTraining
    from safetensors.torch import save_file as t_save
    root = fresh_dir("pytorch")
    bert = torch_state(os.path.join(HERE, "bert-tiny", "model.safetensors"))

    def model_folder(name, state, config_src, legacy=False, **save):
        d = os.path.join(root, name)
        os.makedirs(d)
        torch.save(state, os.path.join(d, "pytorch_model.bin"), _use_new_zipfile_serialization=not legacy, **save)
        shutil.copy(config_src, os.path.join(d, "config.json"))
        shutil.copy(os.path.join(HERE, "vocab-tiny.txt"), os.path.join(d, "vocab.txt"))
        return d

    bert_config = os.path.join(HERE, "bert-tiny", "config.json")
    model_folder("bert-tiny-zip", bert, bert_config)
    model_folder("bert-tiny-legacy", bert, bert_config, legacy=True)

    # RoBERTa (tiny, random) and ALBERT (the TF sample's weights), zip and legacy.
    torch.manual_seed(4)
    n_vocab = sum(1 for _ in open(os.path.join(HERE, "vocab-tiny.txt"), encoding="utf-8"))
    rcfg = RobertaConfig(vocab_size=n_vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=40, type_vocab_size=1, pad_token_id=1)
    roberta = RobertaModel(rcfg).eval()
    rdir = fresh_dir("pytorch", "roberta-tiny-config")
    rcfg.save_pretrained(rdir)
    rstate = {k: v.contiguous() for k, v in roberta.state_dict().items()}
    model_folder("roberta-tiny-zip", rstate, os.path.join(rdir, "config.json"))
    model_folder("roberta-tiny-legacy", rstate, os.path.join(rdir, "config.json"), legacy=True)
    t_save(rstate, path("pytorch", "roberta-tiny.reference.safetensors"), metadata={"format": "pt"})
    shutil.rmtree(rdir)
    albert = torch_state(os.path.join(HERE, "tensorflow", "albert-tiny-tf1.reference.safetensors"))
    from transformers import AlbertConfig
    acfg = AlbertConfig(vocab_size=n_vocab, embedding_size=16, hidden_size=32, num_hidden_layers=3, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=64, hidden_act="gelu_new")
    adir = fresh_dir("pytorch", "albert-config")
    acfg.save_pretrained(adir)
    model_folder("albert-tiny-zip", albert, os.path.join(adir, "config.json"))
    model_folder("albert-tiny-legacy", albert, os.path.join(adir, "config.json"), legacy=True)
    shutil.rmtree(adir)

    # Sharded, as transformers wrote pytorch_model-0000i-of-0000n.bin + index before safetensors.
    d = os.path.join(root, "bert-tiny-sharded")
    os.makedirs(d)
    keys = list(bert)
    halves = [keys[: len(keys) // 2], keys[len(keys) // 2:]]
    weight_map = {}
    for i, part in enumerate(halves):
        name = f"pytorch_model-0000{i + 1}-of-00002.bin"
        torch.save({k: bert[k] for k in part}, os.path.join(d, name))
        weight_map.update({k: name for k in part})
    with open(os.path.join(d, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": sum(v.numel() * 4 for v in bert.values())}, "weight_map": weight_map}, f, indent=2)
    shutil.copy(bert_config, os.path.join(d, "config.json"))
    shutil.copy(os.path.join(HERE, "vocab-tiny.txt"), os.path.join(d, "vocab.txt"))

    # Tied weights: BertForPreTraining ties the MLM decoder to the word embeddings (one storage, two names).
    torch.manual_seed(9)
    pcfg = BertConfig.from_pretrained(os.path.join(HERE, "bert-tiny"), num_hidden_layers=1)
    pre = BertForPreTraining(pcfg).eval()
    pstate = pre.state_dict()
    assert pstate["cls.predictions.decoder.weight"].data_ptr() == pstate["bert.embeddings.word_embeddings.weight"].data_ptr()
    torch.save(pstate, path("pytorch", "tied.bin"))
    t_save({k: v.clone().contiguous() for k, v in pstate.items()}, path("pytorch", "tied.reference.safetensors"),
           metadata={"format": "pt"})

    # Views, strides and other dtypes: each reference is the contiguous copy.
    g = torch.Generator().manual_seed(12)
    base = torch.randn(6, 10, generator=g)
    special = {
        "transposed": base.t(),                      # stride (1, 10)
        "sliced": base[2:5, 3:9],                    # offset and strides into a bigger storage
        "stepped": base[:, ::3],
        "expanded": torch.randn(1, 4, generator=g).expand(3, 4),   # stride 0
        "scalar": torch.tensor(3.5),
        "half": torch.randn(5, 3, generator=g).half(),
        "bfloat": torch.randn(4, 7, generator=g).bfloat16(),
        "int64": torch.arange(12).reshape(3, 4),
        "flags": torch.tensor([True, False, True]),
        "uint16": torch.arange(5, dtype=torch.int32).to(torch.uint16),         # _rebuild_tensor_v3, UntypedStorage
        "float8": torch.linspace(-2, 2, 9).to(torch.float8_e4m3fn),
        "empty": torch.zeros(0, 3),
    }
    torch.save(special, path("pytorch", "views.bin"))
    torch.save(special, path("pytorch", "views-legacy.bin"), _use_new_zipfile_serialization=False)
    t_save({k: v.contiguous().clone() for k, v in special.items()}, path("pytorch", "views.reference.safetensors"))

    # Containers seen in the wild.
    small = {k: bert[k] for k in list(bert)[:6]}
    torch.save({"state_dict": small}, path("pytorch", "wrapped-state-dict.bin"))
    torch.save({"model": {"module." + k: v for k, v in small.items()}, "optimizer": {"state": {}, "param_groups": [{"lr": 1e-4}]},
                "epoch": 3}, path("pytorch", "wrapped-model.bin"))
    t_save({k: v.contiguous() for k, v in small.items()}, path("pytorch", "wrapped.reference.safetensors"))

    # The zip re-compressed with DEFLATE (torch's reader accepts it).
    src = os.path.join(root, "bert-tiny-zip", "pytorch_model.bin")
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(path("pytorch", "deflated.bin"), "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            zout.writestr(item.filename, zin.read(item.filename))
    hostile_pickles()


def hostile_pickles():
    """Pickles that would run code (or break a naive reader) if executed; each must be refused."""
    import pickle
    import zipfile
    out = fresh_dir("broken", "pytorch")

    class Exec:
        def __init__(self, f, args):
            self.f, self.args = f, args

        def __reduce__(self):
            return (self.f, self.args)

    import os as _os, builtins, subprocess, collections

    def zipped(name, pkl, extra=()):
        with zipfile.ZipFile(os.path.join(out, name + ".bin"), "w") as z:
            z.writestr("archive/data.pkl", pkl)
            z.writestr("archive/version", "3\n")
            for entry, data in extra:
                z.writestr(entry, data)

    zipped("os-system", pickle.dumps({"w": Exec(_os.system, ("echo pwned",))}, protocol=2))
    zipped("builtins-eval", pickle.dumps(Exec(builtins.eval, ("1+1",)), protocol=2))
    zipped("subprocess-popen", pickle.dumps([Exec(subprocess.Popen, (["true"],))], protocol=4))
    # Protocol 0/1 INST and OBJ opcodes build instances of arbitrary classes.
    zipped("inst-opcode", b"(S'echo pwned'\nios\nsystem\n.")
    zipped("obj-opcode", b"\x80\x02(cos\nsystem\nX\x0b\x00\x00\x00echo pwnedo.")
    # NEWOBJ on a class outside the allowlist; BUILD with a __setstate__-style payload on it.
    zipped("newobj", b"\x80\x02ccollections\ndefaultdict\n)\x81}X\x01\x00\x00\x00ab.")
    # An allowlisted name under a blocked module spelling.
    zipped("posix-system", b"\x80\x02cposix\nsystem\nX\x02\x00\x00\x00idR.")
    # Memo confusion: BINGET of a slot never stored.
    zipped("memo-missing", b"\x80\x02}q\x00h\x05.")
    # Deep nesting: 5000 lists inside each other (the reader's limit is 1000).
    zipped("deep-nesting", b"\x80\x02" + b"]" * 5000 + b"a" * 4999 + b".")
    # A storage key with no record in the archive.
    good = pickle.dumps({"w": 1}, protocol=2)
    rebuild = (b"\x80\x02}X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n((X\x07\x00\x00\x00storagectorch\nFloatStorage\n"
               b"X\x03\x00\x00\x00999X\x03\x00\x00\x00cpuK\x04tQK\x00K\x04\x85K\x01\x85\x89ccollections\nOrderedDict\n)RtRs.")
    zipped("storage-missing", rebuild)
    overflow = rebuild.replace(b"K\x04tQ", b"\x8a\x08\xff\xff\xff\xff\xff\xff\xff\x3ftQ").replace(b"999", b"0\x00\x00").replace(
        b"X\x03\x00\x00\x000\x00\x00", b"X\x01\x00\x00\x000")
    zipped("numel-overflow", overflow, extra=[("archive/data/0", b"\0" * 16)])
    view = rebuild.replace(b"999", b"0\x00\x00").replace(b"X\x03\x00\x00\x000\x00\x00", b"X\x01\x00\x00\x000").replace(
        b"K\x00K\x04\x85", b"K\x02K\x04\x85")
    zipped("view-out-of-bounds", view, extra=[("archive/data/0", b"\0" * 16)])
    zipped("dotdot-entry", good, extra=[("archive/../../evil", b"x")])
    # Truncated pickle and a truncated legacy file.
    zipped("truncated-pickle", good[:-4])
    legacy = open(os.path.join(HERE, "pytorch", "bert-tiny-legacy", "pytorch_model.bin"), "rb").read()
    with open(os.path.join(out, "truncated-legacy.bin"), "wb") as f:
        f.write(legacy[: len(legacy) - 100])


def encoder_goldens():
    """Golden hidden states for the RoBERTa and ALBERT samples, computed by transformers on their weights."""
    from transformers import RobertaModel, RobertaConfig, AlbertModel, AlbertConfig
    from safetensors.torch import load_file as t_load
    jobs = [
        ("roberta-tiny", RobertaModel, RobertaConfig, os.path.join(HERE, "pytorch", "roberta-tiny-zip", "config.json"),
         os.path.join(HERE, "pytorch", "roberta-tiny.reference.safetensors"), 1),
        ("albert-tiny", AlbertModel, AlbertConfig, os.path.join(HERE, "pytorch", "albert-tiny-zip", "config.json"),
         os.path.join(HERE, "tensorflow", "albert-tiny-tf1.reference.safetensors"), 0),
    ]
    for name, cls, cfg_cls, config_path, weights, pad in jobs:
        config = cfg_cls.from_json_file(config_path)
        model = cls(config).eval()
        missing, unexpected = model.load_state_dict(t_load(weights), strict=False)
        assert not [m for m in missing if "position_ids" not in m and "token_type_ids" not in m], missing
        g = torch.Generator().manual_seed(21)
        ids = torch.randint(5, config.vocab_size, (2, 12), generator=g)
        mask = torch.ones(2, 12, dtype=torch.int64)
        ids[1, 7:] = pad
        mask[1, 7:] = 0
        types = torch.zeros(2, 12, dtype=torch.int64)
        if config.type_vocab_size > 1:
            types[0, 6:] = 1
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=mask, token_type_ids=types, output_hidden_states=True)
        golden = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types,
                  "last_hidden_state": out.last_hidden_state.clone(), "pooler_output": out.pooler_output.clone()}
        for i, h in enumerate(out.hidden_states):
            golden[f"hidden_states.{i}"] = h.clone()
        save_file(golden, path("golden", name + ".safetensors"), metadata={"info": f"{name} torch {torch.__version__}"})


TOKENIZER_SENTENCES = [
    "Hello, world! ModelPort converts BERT weights.",
    "The RBT3 model keeps the first 3 layers of RoBERTa-wwm-ext.",
    "Café déjà vu: naïve résumé façade ÉLAN!",
    "don't stop... (really) [MASK] isn't it?",
    "  multiple   spaces\tand\ttabs\nnewlines  ",
    "Quantize to Q8_0 or Q4_K for a phone; verify the cosine ≥ 0.999.",
    "我们把中文模型转换为其他格式。",
    "哈工大讯飞联合实验室发布了中文预训练模型RoBERTa-wwm-ext。",
    "混合English和中文mixed文本，包括标点！",
    "数字123和字母abc混在一起：测试123abc。",
    "unaffable unbelievable playing played player",
    "emoji 😀 and symbols © ® ™ § ¶",
    "",
    "a" * 120,
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
]


def tokenizer_fixture():
    """A vocabulary and a sentence set with the ids transformers' BertTokenizer gives (lower-cased, CJK split)."""
    import unicodedata
    from transformers import BertTokenizer
    words, chars = set(), set()
    for sentence in TOKENIZER_SENTENCES:
        text = unicodedata.normalize("NFD", sentence.lower())
        text = "".join(c for c in text if unicodedata.category(c) != "Mn")
        for c in text:
            if 0x4E00 <= ord(c) <= 0x9FFF:
                chars.add(c)
        token = ""
        for c in text + " ":
            if c.isalnum() and not (0x4E00 <= ord(c) <= 0x9FFF):
                token += c
            else:
                if token:
                    words.add(token)
                token = ""
                if not c.isspace() and not c.isalnum():
                    chars.add(c)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    leave_out = {"supercalifragilisticexpialidocious", "verify"}  # become [UNK]
    for w in sorted(words):
        if w in leave_out or len(w) > 100:
            continue
        if len(w) > 6:
            vocab += [w[:4], "##" + w[4:]]
        else:
            vocab.append(w)
    vocab += sorted(chars)
    vocab += ["##s", "##ing", "##ed", "##er", "un", "##able", "play", "##a", "a"]
    seen, ordered = set(), []
    for v in vocab:
        if v not in seen:
            seen.add(v)
            ordered.append(v)
    d = fresh_dir("tokenizer")
    with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(ordered) + "\n")
    tok = BertTokenizer(os.path.join(d, "vocab.txt"), do_lower_case=True, tokenize_chinese_chars=True)
    cases = [{"text": s, "ids": tok(s)["input_ids"], "tokens": tok.tokenize(s)} for s in TOKENIZER_SENTENCES]
    with open(os.path.join(d, "cases.json"), "w", encoding="utf-8") as f:
        json.dump({"tokenizer": type(tok).__name__, "transformers": __import__("transformers").__version__,
                   "do_lower_case": True, "cases": cases}, f, ensure_ascii=False, indent=1)


# ---------------------------------------------------------------------------------------------------------
# Tokenizers: goldens from transformers' own tokenizers on a multi-script corpus
# ---------------------------------------------------------------------------------------------------------

TOKENIZER_CORPUS_BASE = [
    "Hello, world! ModelPort converts BERT weights.",
    "The quick brown fox jumps over the lazy dog.",
    "Café déjà vu: naïve résumé façade ÉLAN!",
    "don't stop... (really) isn't it? I'll say we'd've gone.",
    "  multiple   spaces\tand\ttabs\nnewlines  ",
    "Quantize to Q8_0 or Q4_K for a phone; verify the cosine ≥ 0.999.",
    "我们把中文模型转换为其他格式。",
    "哈工大讯飞联合实验室发布了中文预训练模型RoBERTa-wwm-ext。",
    "混合English和中文mixed文本，包括标点！",
    "数字123和字母abc混在一起：测试123abc。",
    "東京は日本の首都です。カタカナとひらがなも。",
    "서울은 한국의 수도입니다.",
    "Москва — столица России. Ёжик в тумане!",
    "Привет, мир! Как дела? ЗАГЛАВНЫЕ буквы.",
    "مرحبا بالعالم، هذه جملة عربية.",
    "العربية: الكتاب على الطاولة ١٢٣٤٥.",
    "שלום עולם, זה משפט בעברית.",
    "עִבְרִית עם ניקוד וטעמים.",
    "Ελληνικά: ΟΔΥΣΣΕΥΣ και η Πηνελόπη.",
    "हिन्दी में एक वाक्य लिखा गया है।",
    "ภาษาไทยไม่มีช่องว่างระหว่างคำ",
    "Tiếng Việt có nhiều dấu: Đà Nẵng, Huế, Hà Nội.",
    "Combining marks: e\u0301 a\u0300 o\u0308 n\u0303 and A\u030a.",
    "Precomposed: é à ö ñ Å versus decomposed forms.",
    "Ｆｕｌｌ－ｗｉｄｔｈ　ｆｏｒｍｓ：ＡＢＣ　１２３！",
    "Half-width ｶﾀｶﾅ and full-width カタカナ.",
    "emoji 😀 and symbols © ® ™ § ¶ 👍🏽 👨‍👩‍👧",
    "flags 🇫🇷🇩🇪 and hearts ❤️💔",
    "zero\u200bwidth\u200cjoiners\u200dand\ufeffBOM",
    "no-break\u00a0space, thin\u2009space, ideographic\u3000space",
    "line\u2028separator and paragraph\u2029separator",
    "soft\u00adhyphen and\u0085next line",
    "control\u0007bell and\u001bescape chars",
    "a" * 120,
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopicsilicovolcanoconiosis",
    "x" * 99 + " " + "y" * 101,
    "unaffable unbelievable playing played player",
    "1,000,000 dollars and 3.14159 pies, 2,5 Euro.",
    "Numbers like 12,345,678 and 9,99 or 1,2,3,",
    "``quoted'' text and ''double'' quotes",
    "Mixed CASE Words ThatShould BeLowered",
    "ﬁ ligature ﬂ and ℌ𝔢𝔩𝔩𝔬 math letters",
    "superscripts x² y³ and fractions ½ ¼",
    "İstanbul ıi and straße ß STRASSE",
    "e-mail: user@example.com, url https://example.org/path?q=1&x=2",
    "tabs\tinside\twords and\r\nwindows lines",
    "trailing spaces     ",
    "     leading spaces",
    "",
    " ",
    "a",
    "?!.,;:",
    "£$€¥ currency ₹ signs",
    "math ∑∫√∞ ≠ ≈ symbols",
    "box ─│┌┐ drawing ░▒▓",
    "Ǆemal ǅ titlecase ǆ",
    "𠀀𠀁 rare CJK extension B 𪜀",
    "ｱｲｳ and ㈱ ㌔ ℃ compatibility",
    "I'm Tom's friend; they're here, we've been, you'll see, he'd go.",
    "It's 5 o'clock: 's 't 're 've 'm 'll 'd",
    "HELLO WORLD IN CAPITALS AND ÀÉÎÕÜ",
    "Ça va? Où est la bibliothèque? À bientôt!",
    "Zürich, Köln, Malmö, Øresund, Łódź, Çanakkale.",
    "北京欢迎你，上海、广州和深圳也欢迎你。",
    "繁體中文與簡體中文混合：臺灣、台湾。",
    "日本語の文章、漢字と仮名（かな）が混ざる。",
    "Україна, Київ — український текст з ї, є, ґ.",
    "Қазақ тілі және Монгол хэл.",
    "فارسی: سلام دنیا، این یک جمله است.",
    "ײִדיש און עבֿרית מיט פּונקטן",
    "Emoji sequences: 🧑🏻‍💻 👩🏿‍🔬 🏳️‍🌈 ✋🏼",
    "keycap 1️⃣ 2️⃣ #️⃣ and variation selectors ︎︎",
    "Mixed: Paris 巴黎 Париж باريس פריז パリ",
]

TOKENIZER_GLUED = [
    "巴黎是[MASK]国的首都",
    "x[MASK]y",
    "naïve[CLS]e-mail",
    "1,000,000[MASK]",
    "[CLS]start and end[SEP]",
    "two[MASK][MASK]masks",
    "the [MASK] is here",
    "[mask] lower-case is not special",
    "[UNK]unknown[PAD]padding",
    "<s>roberta</s> <mask>token<pad><unk>",
    "hello <mask> world",
    "hello<mask>world",
    "[MASK]",
    "<mask>",
    "[BOS]perceiver[EOS] bytes [SEP]",
    "Москва[MASK]столица",
    "مرحبا[SEP]عالم",
    "😀[MASK]😀",
    "[[MASK]]",
    "[MAS K] [ MASK]",
    "a<e1>b [FOO]c<add1>d <add2>",
]

TOKENIZER_PAIRS = [
    ("What is the capital of France?", "Paris is the capital of France."),
    ("我们把中文模型转换为其他格式。", "Москва — столица России."),
    ("short", "a much longer second sentence with many many words to make it longer than the first one"),
    ("a much longer first sentence with many many words to make it longer than the second one", "short"),
    ("Café déjà vu", "naïve résumé"),
    ("", "empty first"),
    ("x[MASK]y", "hello <mask> world"),
    ("emoji 😀", "🇫🇷🇩🇪"),
    ("1,000,000 dollars", "2,5 Euro"),
    ("Ｆｕｌｌ－ｗｉｄｔｈ", "ｶﾀｶﾅ"),
    (" ".join(["alpha beta gamma delta"] * 8), " ".join(["one two three four five"] * 7)),
    (" ".join(["long"] * 30), " ".join(["longer"] * 31)),
    (" ".join(["odd"] * 33), " ".join(["even"] * 40)),
    ("שלום עולם", "مرحبا بالعالم"),
    ("zero\u200bwidth", "no-break\u00a0space"),
    ("an empty second text", ""),
    ("▁metaspace▁inside and ▁▁leading", "tabs\tand\u2028separators"),
]


def tokenizer_corpus():
    """(text, pair) cases: the base sentences, special tokens glued to words, long texts that hit the maximum
    length, and sentence pairs."""
    cases = [(s, None) for s in TOKENIZER_CORPUS_BASE + TOKENIZER_GLUED]
    cases.append((" ".join(TOKENIZER_CORPUS_BASE[:12]), None))  # longer than every model_max_length below
    cases += list(TOKENIZER_PAIRS)
    return cases


def tokenizer_training_text():
    text = TOKENIZER_CORPUS_BASE + [s for s, _ in TOKENIZER_PAIRS] + [p for _, p in TOKENIZER_PAIRS]
    text += TOKENIZER_SENTENCES
    extra = ("the model converts weights between frameworks and checks that nothing was lost on the way "
             "tokenizers split text into pieces of a vocabulary words subwords characters bytes").split()
    rng = np.random.default_rng(5)
    for _ in range(300):
        text.append(" ".join(rng.choice(extra, size=12)))
    return [t for t in text if t.strip()]


def wordpiece_vocabulary(texts, lower, size):
    """A deterministic WordPiece vocabulary for the corpus: the specials, every character (alone and as `##`
    continuation), then the most frequent words and 2–4 character word starts and `##` endings, by frequency then
    spelling (`tokenizers`' WordPiece trainer orders ties differently from run to run)."""
    from collections import Counter
    from tokenizers import normalizers, pre_tokenizers
    normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lower)
    pre = pre_tokenizers.BertPreTokenizer()
    words = Counter()
    for text in texts:
        words.update(w for w, _ in pre.pre_tokenize_str(normalizer.normalize_str(text)))
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + ["##" + c for c in chars]
    pieces = Counter()
    for w, n in words.items():
        if len(w) > 1:
            pieces[w] += 2 * n
        for length in (2, 3, 4):
            if len(w) > length:
                pieces[w[:length]] += n
                pieces["##" + w[-length:]] += n
    seen = set(vocab)
    for piece, _ in sorted(pieces.items(), key=lambda item: (-item[1], item[0])):
        if len(vocab) >= size:
            break
        if piece not in seen:
            seen.add(piece)
            vocab.append(piece)
    return vocab


def write_goldens(tok, cases, out, kind, **settings):
    import transformers
    lines = []
    for text, pair in cases:
        enc = tok(text, pair, truncation=True) if pair is not None else tok(text, truncation=True)
        record = {"text": text}
        if pair is not None:
            record["pair"] = pair
        record["input_ids"] = enc["input_ids"]
        record["token_type_ids"] = enc.get("token_type_ids") or [0] * len(enc["input_ids"])
        record["tokens"] = tok.convert_ids_to_tokens(enc["input_ids"])
        lines.append(json.dumps(record, ensure_ascii=False))
    header = {"tokenizer": type(tok).__name__, "transformers": transformers.__version__, "kind": kind,
              "model_max_length": tok.model_max_length, **settings}
    with open(out, "w", encoding="utf-8") as f:
        f.write('{"info": ' + json.dumps(header, ensure_ascii=False) + ',\n "cases": [\n')
        f.write(",\n".join(lines))
        f.write("\n]}\n")


def tokenizer_goldens():
    """Tokenizer folders (a WordPiece vocabulary trained with `tokenizers`, a SentencePiece unigram model trained
    with the sentencepiece library, a byte-level BPE trained with `tokenizers`) and the ids transformers' own
    BertTokenizer (lower-cased and cased), AlbertTokenizer, RobertaTokenizer and PerceiverTokenizer give on the
    corpus above (one JSON file per kind, one case per line)."""
    import io
    import sentencepiece as spm
    from tokenizers import ByteLevelBPETokenizer, Tokenizer, normalizers, pre_tokenizers, processors
    from tokenizers.models import WordPiece
    from transformers import BertTokenizer, AlbertTokenizer, RobertaTokenizer, PerceiverTokenizer
    root = fresh_dir("tokenizers")
    training = tokenizer_training_text()
    cases = tokenizer_corpus()
    max_length = 48

    # WordPiece, lower-cased and cased.
    for name, lower in [("bert-uncased", True), ("bert-cased", False)]:
        d = os.path.join(root, name)
        os.makedirs(d)
        tokens = wordpiece_vocabulary(training, lower, size=700)
        with open(os.path.join(d, "vocab.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(tokens) + "\n")
        tok = BertTokenizer(vocab_file=os.path.join(d, "vocab.txt"), do_lower_case=lower, model_max_length=max_length)
        tok.save_pretrained(d)
        os.remove(os.path.join(d, "tokenizer.json"))  # transformers 5.23 writes it with the special tokens only
        if lower:  # the lower-cased folder also gets a tokenizer.json, written by `tokenizers` itself
            fast = Tokenizer(WordPiece({t: i for i, t in enumerate(tokens)}, unk_token="[UNK]", max_input_chars_per_word=100))
            fast.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True, strip_accents=None,
                                                         lowercase=True)
            fast.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
            fast.post_processor = processors.TemplateProcessing(
                single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
            fast.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
            fast.save(os.path.join(d, "tokenizer.json"))
        tok = BertTokenizer.from_pretrained(d)
        write_goldens(tok, cases, os.path.join(root, name + ".json"), "wordpiece", do_lower_case=lower)

    # The cased vocabulary with added tokens: added_tokens.json (legacy; transformers 5 appends them in id order) and
    # extra_special_tokens in tokenizer_config.json.
    d = os.path.join(root, "bert-added")
    shutil.copytree(os.path.join(root, "bert-cased"), d)
    with open(os.path.join(d, "tokenizer_config.json"), encoding="utf-8") as f:
        config = json.load(f)
    config["extra_special_tokens"] = ["<e1>", "[FOO]"]
    with open(os.path.join(d, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(d, "added_tokens.json"), "w", encoding="utf-8") as f:
        json.dump({"<add1>": 949, "<add2>": 950}, f)
    tok = BertTokenizer.from_pretrained(d)
    write_goldens(tok, cases, os.path.join(root, "bert-added.json"), "wordpiece", do_lower_case=False)

    # SentencePiece unigram for ALBERT.
    d = os.path.join(root, "albert")
    os.makedirs(d)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training), model_writer=model, vocab_size=400, model_type="unigram",
        character_coverage=0.995, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        normalization_rule_name="nmt_nfkc", seed_sentencepiece_size=5000, num_threads=1,
        minloglevel=2)
    with open(os.path.join(d, "spiece.model"), "wb") as f:
        f.write(model.getvalue())
    tok = AlbertTokenizer(vocab_file=os.path.join(d, "spiece.model"), model_max_length=max_length)
    tok.save_pretrained(d)
    os.remove(os.path.join(d, "tokenizer.json"))  # the spiece.model path is the one under test
    tok = AlbertTokenizer.from_pretrained(d)
    write_goldens(tok, cases, os.path.join(root, "albert.json"), "sentencepiece")
    # The same tokenizer as transformers serializes it (tokenizer.json: Unigram, normalizer sequence with the
    # base64 charsmap, Metaspace); it must give albert.json's ids too.
    dj = os.path.join(root, "albert-json")
    tok.save_pretrained(dj)
    for extra in os.listdir(dj):
        if extra not in ("tokenizer.json", "tokenizer_config.json"):
            os.remove(os.path.join(dj, extra))
    again = AlbertTokenizer.from_pretrained(dj)
    for text, pair in cases:
        assert again(text, pair, truncation=True)["input_ids"] == tok(text, pair, truncation=True)["input_ids"], text

    # Byte-level BPE for RoBERTa.
    d = os.path.join(root, "roberta")
    os.makedirs(d)
    trainer = ByteLevelBPETokenizer(add_prefix_space=False)
    trainer.train_from_iterator(training, vocab_size=600, min_frequency=2, show_progress=False,
                                special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    trainer.save_model(d)
    tok = RobertaTokenizer(vocab_file=os.path.join(d, "vocab.json"), merges_file=os.path.join(d, "merges.txt"),
                           model_max_length=max_length)
    tok.save_pretrained(d)
    os.remove(os.path.join(d, "tokenizer.json"))
    tok = RobertaTokenizer.from_pretrained(d)
    write_goldens(tok, cases, os.path.join(root, "roberta.json"), "bpe")

    # Perceiver's bytes.
    d = os.path.join(root, "perceiver")
    os.makedirs(d)
    PerceiverTokenizer(model_max_length=max_length).save_pretrained(d)
    tok = PerceiverTokenizer.from_pretrained(d)
    write_goldens(tok, cases, os.path.join(root, "perceiver.json"), "bytes")
    tokenizer_models()  # the folders were rebuilt: put the models back


TOKENIZER_MODEL_TEXTS = ["巴黎是[MASK]国的首都", "Hello, world! ModelPort converts weights.", "x[MASK]y naïve Москва 😀"]


def tokenizer_models():
    """Tiny RoBERTa and ALBERT models beside the tokenizers of `tokenizer_goldens` (vocabulary sizes to match), with
    golden hidden states for TOKENIZER_MODEL_TEXTS tokenized by transformers (padded batch): `forward --text` and
    `verify --text` check the whole path from text to hidden states."""
    from transformers import (AlbertConfig, AlbertModel, AlbertTokenizer, RobertaConfig, RobertaModel,
                              RobertaTokenizer)
    root = os.path.join(HERE, "tokenizers")
    jobs = [
        ("roberta", RobertaTokenizer, RobertaModel,
         lambda n: RobertaConfig(vocab_size=n, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=50, type_vocab_size=1, pad_token_id=1)),
        ("albert", AlbertTokenizer, AlbertModel,
         lambda n: AlbertConfig(vocab_size=n, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                                num_attention_heads=2, intermediate_size=32, max_position_embeddings=48, pad_token_id=0)),
    ]
    for name, tok_cls, model_cls, make_config in jobs:
        d = os.path.join(root, name)
        tok = tok_cls.from_pretrained(d)
        torch.manual_seed(31)
        model = model_cls(make_config(len(tok))).eval()
        for f in ["config.json", "model.safetensors"]:
            if os.path.exists(os.path.join(d, f)):
                os.remove(os.path.join(d, f))
        model.save_pretrained(d)
        enc = tok(TOKENIZER_MODEL_TEXTS, padding=True, truncation=True, return_tensors="pt")
        with torch.no_grad():
            out = model(**enc, output_hidden_states=True)
        golden = {"input_ids": enc["input_ids"].clone(), "attention_mask": enc["attention_mask"].clone(),
                  "last_hidden_state": out.last_hidden_state.clone(), "pooler_output": out.pooler_output.clone()}
        for i, h in enumerate(out.hidden_states):
            golden[f"hidden_states.{i}"] = h.clone()
        save_file(golden, os.path.join(root, name + ".golden.safetensors"),
                  metadata={"texts": json.dumps(TOKENIZER_MODEL_TEXTS, ensure_ascii=False)})


def perceiver_tiny():
    """A tiny PerceiverForMaskedLM (UTF-8 byte inputs) and its golden hidden states and logits."""
    from transformers import PerceiverConfig, PerceiverForMaskedLM
    torch.manual_seed(17)
    config = PerceiverConfig(vocab_size=262, d_model=16, max_position_embeddings=24, num_latents=6, d_latents=20,
                             num_blocks=1, num_self_attends_per_block=3, num_self_attention_heads=2,
                             num_cross_attention_heads=2, qk_channels=8, v_channels=20)
    model = PerceiverForMaskedLM(config).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "layernorm" in name:
                p.add_(torch.randn_like(p) * 0.1)
    d = fresh_dir("perceiver-tiny")
    model.save_pretrained(d)
    texts = ["héllo world", "byte 字"]
    ids = torch.zeros(2, 16, dtype=torch.int64)
    mask = torch.zeros(2, 16, dtype=torch.int64)
    for b, text in enumerate(texts):
        raw = [4] + [c + 6 for c in text.encode("utf-8")] + [5]  # [CLS] bytes [SEP], as PerceiverTokenizer
        ids[b, :len(raw)] = torch.tensor(raw)
        mask[b, :len(raw)] = 1
    with torch.no_grad():
        out = model(inputs=ids, attention_mask=mask, output_hidden_states=True)
    golden = {"input_ids": ids, "attention_mask": mask, "logits": out.logits.clone()}
    for i, h in enumerate(out.hidden_states):
        golden[f"hidden_states.{i}"] = h.clone()
    save_file(golden, path("perceiver-tiny", "golden.safetensors"), metadata={"info": f"perceiver-tiny torch {torch.__version__}"})


def gguf_references():
    """Quantizer reference bytes from gguf-py (`gguf.quants`), a GGUF written by gguf-py's GGUFWriter, and
    broken GGUF files derived from it."""
    import gguf
    from gguf import GGMLQuantizationType as T
    from safetensors.numpy import save_file as np_save
    rng = np.random.default_rng(31)
    inputs = {
        "normal": rng.standard_normal((4, 64)).astype(np.float32),
        "heavy_tailed": (rng.standard_cauchy((2, 64)) * 3).astype(np.float32),
        "zeros": np.zeros((1, 64), dtype=np.float32),
        "constant": np.full((1, 64), -0.75, dtype=np.float32),
        "tiny": (rng.standard_normal((1, 64)) * 1e-30).astype(np.float32),
        "halfway": (np.arange(64, dtype=np.float32).reshape(1, 64) - 31.5) * (127 / 63.5 / 2),
        "large": (rng.standard_normal((2, 64)) * 6e4).astype(np.float32),
    }
    out = {}
    for name, x in inputs.items():
        out[name] = x
        out[name + ".q8_0"] = np.frombuffer(gguf.quants.quantize(x, T.Q8_0).tobytes(), dtype=np.uint8).copy()
        out[name + ".bf16"] = np.frombuffer(gguf.quants.quantize(x, T.BF16).tobytes(), dtype=np.uint8).copy()
        for qt in (T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1):
            packed = gguf.quants.quantize(x, qt)
            out[name + "." + qt.name.lower()] = np.frombuffer(packed.tobytes(), dtype=np.uint8).copy()
            out[name + "." + qt.name.lower() + ".dequantized"] = gguf.quants.dequantize(packed, qt).astype(np.float32)
        out[name + ".f16"] = np.frombuffer(x.astype(np.float16).tobytes(), dtype=np.uint8).copy()
    np_save(out, path("gguf", "quantization-reference.safetensors"), metadata={"gguf": gguf.__version__ if hasattr(gguf, "__version__") else "?"})

    # A GGUF file written by gguf-py itself.
    p = path("gguf", "written-by-gguf-py.gguf")
    w = gguf.GGUFWriter(p, "bert")
    w.add_uint32("bert.block_count", 1)
    w.add_float32("bert.attention.layer_norm_epsilon", 1e-12)
    w.add_bool("bert.attention.causal", False)
    w.add_string("general.name", "gguf-py sample")
    w.add_array("tokenizer.ggml.tokens", ["[PAD]", "\u2581hello", "ing"])
    w.add_array("some.ints", [1, 2, 3])
    w.add_tensor("token_embd.weight", inputs["normal"])
    w.add_tensor("blk.0.attn_q.weight", gguf.quants.quantize(inputs["normal"], T.Q8_0), raw_dtype=T.Q8_0)
    w.add_tensor("blk.0.attn_q.bias", inputs["constant"].reshape(64))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    blob = open(p, "rb").read()
    d = fresh_dir("broken", "gguf")

    def case(name, data):
        with open(os.path.join(d, name + ".gguf"), "wb") as f:
            f.write(data)

    case("wrong-magic", b"GGUX" + blob[4:])
    case("truncated", blob[: len(blob) - 100])
    # Tensor infos: find the last tensor's u64 offset (right after its u32 type) and corrupt it.
    name = b"blk.0.attn_q.bias"
    at = blob.index(name) + len(name)
    n_dims = struct.unpack("<I", blob[at:at + 4])[0]
    type_at = at + 4 + 8 * n_dims
    offset_at = type_at + 4
    case("offset-past-end", blob[:offset_at] + struct.pack("<Q", 1 << 40) + blob[offset_at + 8:])
    case("misaligned-offset", blob[:offset_at] + struct.pack("<Q", struct.unpack("<Q", blob[offset_at:offset_at + 8])[0] + 4) + blob[offset_at + 8:])
    case("unknown-type", blob[:type_at] + struct.pack("<I", 99) + blob[type_at + 4:])
    key = b"general.name"
    kat = blob.index(key) + len(key) + 4  # after the u32 value type: the string's u64 length
    case("string-past-end", blob[:kat] + struct.pack("<Q", 1 << 50) + blob[kat + 8:])
    akey = b"some.ints"
    aat = blob.index(akey) + len(akey) + 4 + 4  # after value type (array) and element type: the u64 count
    case("huge-array", blob[:aat] + struct.pack("<Q", 10 ** 15) + blob[aat + 8:])
    for n in os.listdir(d):
        try:
            r = gguf.GGUFReader(os.path.join(d, n))
            _ = [t.data.sum() for t in r.tensors]
            print("note: gguf-py accepted broken fixture", n)
        except Exception:
            pass


def ggml_library():
    """ggml's shared library as built by llama-cpp-python (the reference for the K-quant encoders), or None."""
    try:
        import llama_cpp
    except ImportError:
        return None
    import ctypes
    lib = ctypes.CDLL(os.path.join(os.path.dirname(llama_cpp.__file__), "lib", "libggml-base.so"))
    for kind in ("q4_K", "q5_K", "q6_K"):
        for fn in (f"quantize_row_{kind}_ref", f"dequantize_row_{kind}"):
            getattr(lib, fn).argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int64]
            getattr(lib, fn).restype = None
    return lib


def kquant_references():
    """Q4_K / Q5_K / Q6_K bytes from ggml's own `quantize_row_*_ref` (no importance matrix: what llama-quantize
    runs without an imatrix) and `dequantize_row_*`, called through ctypes on llama-cpp-python's libggml-base."""
    lib = ggml_library()
    if lib is None:
        print("llama-cpp-python not installed: K-quant references left as they are")
        return
    import gguf
    from gguf import GGMLQuantizationType as T
    from safetensors.numpy import save_file as np_save
    rng = np.random.default_rng(37)
    mixed = rng.standard_normal((1, 256)).astype(np.float32)
    mixed[0, 0:32] = 0            # an all-zero sub-block
    mixed[0, 32:64] = 0.25        # a constant positive one
    mixed[0, 64:80] = 1e-20       # a tiny half sub-block
    mixed[0, 200] = 40            # one outlier
    inputs = {
        "normal": rng.standard_normal((4, 256)).astype(np.float32),
        "heavy_tailed": (rng.standard_cauchy((2, 256)) * 3).astype(np.float32),
        "zeros": np.zeros((1, 256), dtype=np.float32),
        "constant": np.full((1, 256), -0.75, dtype=np.float32),
        "tiny": (rng.standard_normal((1, 256)) * 1e-30).astype(np.float32),
        "positive": rng.uniform(0.1, 1.0, (1, 256)).astype(np.float32),
        "weights_like": (rng.standard_normal((2, 256)) * 0.02).astype(np.float32),
        "mixed": mixed,
        "large": (rng.standard_normal((1, 256)) * 6e4).astype(np.float32),
    }
    sizes = {"q4_K": 144, "q5_K": 176, "q6_K": 210}
    types = {"q4_K": T.Q4_K, "q5_K": T.Q5_K, "q6_K": T.Q6_K}
    out = {}
    for name, x in inputs.items():
        out[name] = x
        flat = np.ascontiguousarray(x.reshape(-1))
        for kind, size in sizes.items():
            packed = np.zeros(flat.size // 256 * size, dtype=np.uint8)
            getattr(lib, f"quantize_row_{kind}_ref")(flat.ctypes.data, packed.ctypes.data, flat.size)
            back = np.zeros_like(flat)
            getattr(lib, f"dequantize_row_{kind}")(packed.ctypes.data, back.ctypes.data, flat.size)
            # gguf-py's numpy dequantizer must read ggml's bytes the same way (a check on the fixture itself).
            theirs = gguf.quants.dequantize(packed.reshape(x.shape[0], -1), types[kind]).reshape(-1)
            assert np.allclose(theirs, back, rtol=1e-6, atol=0), (name, kind)
            out[f"{name}.{kind.lower()}"] = packed
            out[f"{name}.{kind.lower()}.dequantized"] = back.reshape(x.shape)
    import llama_cpp
    np_save(out, path("gguf", "kquant-reference.safetensors"), metadata={"ggml": "llama-cpp-python " + llama_cpp.__version__})


def packed_references():
    """Per-channel int8 written by compressed-tensors itself (its ModelCompressor on bert-tiny, `int-quantized`,
    symmetric, channel strategy) and MLX affine quantization from `mlx.core.quantize` (4 and 8 bits, groups of
    32/64/128), on the K-quant inputs (gguf/kquant-reference.safetensors) and bert-tiny's Linear weights."""
    try:
        import mlx.core as mx
        import compressed_tensors
    except ImportError:
        print("mlx / compressed-tensors not installed: packed references left as they are")
        return
    from safetensors.numpy import save_file as np_save, load_file as np_load
    from transformers import BertModel
    from compressed_tensors.quantization import (QuantizationArgs, QuantizationConfig, QuantizationScheme,
                                                 apply_quantization_config)
    from compressed_tensors.quantization.utils import calculate_qparams
    from compressed_tensors.compressors import ModelCompressor
    inputs = {k: v for k, v in np_load(path("gguf", "kquant-reference.safetensors")).items() if "." not in k}

    def compress(module):
        """compressed-tensors' own int8 per-channel compression of every Linear in `module` (state dict)."""
        args = QuantizationArgs(num_bits=8, type="int", symmetric=True, strategy="channel")
        config = QuantizationConfig(config_groups={"group_0": QuantizationScheme(targets=["Linear"], weights=args)},
                                    format="int-quantized")
        apply_quantization_config(module, config)
        for m in module.modules():
            if hasattr(m, "weight_scale"):  # the min-max observer's statistics, per output row
                w = m.weight.data
                scale, zero = calculate_qparams(w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True), args)
                m.weight_scale.data = scale.to(m.weight_scale.dtype)
                m.weight_zero_point.data = zero.to(m.weight_zero_point.dtype)
        compressor = ModelCompressor.from_pretrained_model(module, quantization_format="int-quantized")
        compressor.compress_model(module)
        return {k: v.detach().numpy().copy() for k, v in module.state_dict().items()}, compressor

    out = {}
    # bert-tiny: the weights and scales of each Linear, exactly as compressed-tensors stores them.
    bert = BertModel.from_pretrained(path("bert-tiny")).eval()
    state, compressor = compress(bert)
    for k, v in state.items():
        if k.endswith(".weight_scale") or (k.endswith(".weight") and v.dtype == np.int8):
            out["bert-tiny." + k] = v
    d = fresh_dir("packed", "bert-tiny-int8-config")
    bert.config.save_pretrained(d)
    compressor.update_config(d)
    # The inputs with awkward rows (zeros, constants, 1e-30, heavy tails), one Linear each.
    holder = torch.nn.Module()
    for name, x in inputs.items():
        linear = torch.nn.Linear(x.shape[1], x.shape[0], bias=False)
        linear.weight.data = torch.from_numpy(x.copy())
        holder.add_module(name, linear)
    state, _ = compress(holder)
    for name in inputs:
        out[name + ".int8"] = state[name + ".weight"]
        out[name + ".int8.scale"] = state[name + ".weight_scale"]
    for name, x in inputs.items():
        for bits in (4, 8):
            for group in (32, 64, 128):
                w, scales, biases = mx.quantize(mx.array(x), group_size=group, bits=bits)
                key = f"{name}.mlx{bits}g{group}"
                out[key] = np.array(w)
                out[key + ".scales"] = np.array(scales)
                out[key + ".biases"] = np.array(biases)
    half = inputs["weights_like"].astype(np.float16)
    w, scales, biases = mx.quantize(mx.array(half), group_size=64, bits=4)
    out["weights_like_f16"] = half
    out["weights_like_f16.mlx4g64"], out["weights_like_f16.mlx4g64.scales"], out["weights_like_f16.mlx4g64.biases"] = (
        np.array(w), np.array(scales), np.array(biases))
    np_save(out, path("packed", "reference.safetensors"),
            metadata={"mlx": mx.__version__, "compressed-tensors": compressed_tensors.__version__})


def truncated_golden():
    """PyTorch's output of bert-tiny rebuilt with num_hidden_layers=3 on the same weights (RBT3-style)."""
    from transformers import BertModel
    from safetensors.torch import load_file as t_load
    model = BertModel.from_pretrained(os.path.join(HERE, "bert-tiny"), num_hidden_layers=3).eval()
    inputs = t_load(os.path.join(HERE, "golden", "bert-tiny.safetensors"))
    with torch.no_grad():
        out = model(input_ids=inputs["input_ids"], token_type_ids=inputs["token_type_ids"],
                    attention_mask=inputs["attention_mask"], output_hidden_states=True)
    golden = {k: inputs[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
    golden["last_hidden_state"] = out.last_hidden_state.clone()
    golden["pooler_output"] = out.pooler_output.clone()
    for i, h in enumerate(out.hidden_states):
        golden[f"hidden_states.{i}"] = h.clone()
    save_file(golden, path("golden", "bert-tiny-3layers.safetensors"), metadata={"info": "bert-tiny, num_hidden_layers=3"})


def paddle_checkpoints():
    """bert-tiny as PaddleNLP saves it (`bert.` names, Linear weights [in, out]) with paddle.save, protocols 4 and 2,
    plus a model_config.json; and a RoBERTa-prefixed copy, as hfl's rbt3 ships on PaddleNLP."""
    import paddle
    from safetensors.numpy import load_file as np_load
    # The first two layers only, to keep Samples/ small; tests compare with bert-tiny's tensors of those layers.
    base = {k: v for k, v in np_load(os.path.join(HERE, "bert-tiny", "model.safetensors")).items()
            if not any(f"encoder.layer.{i}." in k for i in (2, 3))}
    config = dict(json.load(open(os.path.join(HERE, "bert-tiny", "config.json"))), num_hidden_layers=2)
    renames = [("embeddings.LayerNorm.", "embeddings.layer_norm."), ("encoder.layer.", "encoder.layers."),
               ("attention.self.query.", "self_attn.q_proj."), ("attention.self.key.", "self_attn.k_proj."),
               ("attention.self.value.", "self_attn.v_proj."), ("attention.output.dense.", "self_attn.out_proj."),
               ("intermediate.dense.", "linear1."), ("attention.output.LayerNorm.", "norm1."),
               ("output.dense.", "linear2."), ("output.LayerNorm.", "norm2.")]

    def paddle_state(prefix):
        state = {}
        for name, value in base.items():
            new = name
            for a, b in renames:
                new = new.replace(a, b)
            if value.ndim == 2 and name.endswith(".weight") and "embeddings" not in name:
                value = np.ascontiguousarray(value.T)
            state[prefix + new] = paddle.to_tensor(value)
        return state

    init_args = {k: config[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                         "intermediate_size", "hidden_act", "hidden_dropout_prob",
                                         "attention_probs_dropout_prob", "max_position_embeddings",
                                         "type_vocab_size", "initializer_range", "pad_token_id")}
    shutil.rmtree(os.path.join(HERE, "paddle"), ignore_errors=True)
    for name, prefix, protocol in [("bert-tiny-p2", "bert.", 2), ("rbt-tiny", "roberta.", 4)]:
        d = fresh_dir("paddle", name)
        paddle.save(paddle_state(prefix), os.path.join(d, "model_state.pdparams"), protocol=protocol)
        cls = "RobertaModel" if prefix == "roberta." else "BertModel"
        with open(os.path.join(d, "model_config.json"), "w") as f:
            json.dump({"init_args": [dict(init_args, init_class=cls)], "init_class": cls}, f, indent=2)
        shutil.copy(os.path.join(HERE, "vocab-tiny.txt"), os.path.join(d, "vocab.txt"))


# Paddle 1.x static-graph names (Paddle 1.x static-graph BERT, as PaddleHub modules name them) of bert-tiny's layer 0, HF name → static name.
STATIC_NAMES = [("embeddings.word_embeddings.weight", "word_embedding"), ("embeddings.position_embeddings.weight", "pos_embedding"),
                ("embeddings.token_type_embeddings.weight", "sent_embedding"),
                ("embeddings.LayerNorm.weight", "pre_encoder_layer_norm_scale"), ("embeddings.LayerNorm.bias", "pre_encoder_layer_norm_bias"),
                ("pooler.dense.weight", "pooled_fc.w_0"), ("pooler.dense.bias", "pooled_fc.b_0")]
for hf, static in [("attention.self.query", "multi_head_att_query_fc"), ("attention.self.key", "multi_head_att_key_fc"),
                   ("attention.self.value", "multi_head_att_value_fc"), ("attention.output.dense", "multi_head_att_output_fc"),
                   ("intermediate.dense", "ffn_fc_0"), ("output.dense", "ffn_fc_1")]:
    STATIC_NAMES += [(f"encoder.layer.0.{hf}.weight", f"encoder_layer_0_{static}.w_0"), (f"encoder.layer.0.{hf}.bias", f"encoder_layer_0_{static}.b_0")]
for hf, static in [("attention.output.LayerNorm", "post_att_layer_norm"), ("output.LayerNorm", "post_ffn_layer_norm")]:
    STATIC_NAMES += [(f"encoder.layer.0.{hf}.weight", f"encoder_layer_0_{static}_scale"), (f"encoder.layer.0.{hf}.bias", f"encoder_layer_0_{static}_bias")]

# Runs in a fresh interpreter (the program format is chosen by FLAGS_enable_pir_api before paddle is imported):
# builds a static program whose parameters hold the given arrays, under the given names, and saves it the ways
# Paddle does: save_inference_model, paddle.static.save, and save_vars (one LoDTensor file per variable).
PADDLE_STATIC_WRITER = r"""
import os, sys
import numpy as np
import paddle
mode, arrays, out = sys.argv[1], np.load(sys.argv[2]), sys.argv[3]
paddle.enable_static()
main, startup = paddle.static.Program(), paddle.static.Program()
with paddle.static.program_guard(main, startup):
    x = paddle.static.data("x", [None, 1], "float32")
    y = x
    for name in arrays.files:
        p = paddle.static.create_parameter(list(arrays[name].shape), "float32", name=name,
                                           default_initializer=paddle.nn.initializer.Assign(arrays[name]))
        y = y + paddle.mean(p)
exe = paddle.static.Executor(paddle.CPUPlace())
exe.run(startup)
if mode == "inference":
    paddle.static.save_inference_model(os.path.join(out, "inference"), [x], [y], exe, program=main)
elif mode == "static-save":
    paddle.static.save(main, os.path.join(out, "model"))
    os.remove(os.path.join(out, "model.pdopt"))
elif mode == "module-v1":  # PaddleHub ModuleV1: model/__model__ (protobuf program) + one file per variable
    from paddle.static.io import save_vars
    os.makedirs(os.path.join(out, "model"))
    with open(os.path.join(out, "model", "__model__"), "wb") as f:
        f.write(main.desc.serialize_to_string())
    save_vars(exe, os.path.join(out, "model"), main, vars=[v for v in main.list_vars() if v.persistable and v.name in arrays.files])
else:
    from paddle.static.io import save_vars
    save_vars(exe, out, main, vars=[v for v in main.list_vars() if v.persistable and v.name in arrays.files])
"""


def paddle_legacy_python():
    """The Python that writes legacy protobuf programs: PADDLE_LEGACY_PYTHON (a venv with paddlepaddle 2.6, as the
    committed fixtures were made) or, without it, this one (Paddle 3 with FLAGS_enable_pir_api=0)."""
    return os.environ.get("PADDLE_LEGACY_PYTHON", sys.executable)


def paddle_static_checkpoints():
    """Layer 0 of bert-tiny under Paddle 1.x static names, written by Paddle itself (legacy programs by Paddle 2.6
    through PADDLE_LEGACY_PYTHON, PIR ones by Paddle 3): a PaddleHub 1.x module folder
    (assets/params/ with one LoDTensor file per `@HUB_rbt-tiny@`-prefixed variable, vocab, bert_config.json), an
    inference model in the legacy protobuf program format (.pdmodel) and in Paddle 3's PIR JSON (.json), each with a
    combined .pdiparams, and paddle.static.save output (.pdparams + .json). Tests compare with bert-tiny's tensors."""
    import subprocess
    import tempfile
    from safetensors.numpy import load_file as np_load
    weights = np_load(os.path.join(HERE, "bert-tiny", "model.safetensors"))
    arrays = {}
    for hf, static in STATIC_NAMES:
        value = weights[hf]
        arrays[static] = np.ascontiguousarray(value.T) if static.endswith(".w_0") else value
    config = json.load(open(os.path.join(HERE, "bert-tiny", "config.json")))
    with tempfile.TemporaryDirectory() as tmp:
        def write(mode, folder, names, pir):
            npz = os.path.join(tmp, "arrays.npz")
            np.savez(npz, **names)
            env = dict(os.environ, FLAGS_enable_pir_api="1" if pir else "0", GLOG_minloglevel="3")
            python = sys.executable if pir else paddle_legacy_python()
            subprocess.run([python, "-c", PADDLE_STATIC_WRITER, mode, npz, folder], check=True, env=env,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        hub = fresh_dir("paddle", "hub-rbt-tiny")
        os.makedirs(os.path.join(hub, "assets", "params"))
        write("vars", os.path.join(hub, "assets", "params"), {"@HUB_rbt-tiny@" + k: v for k, v in arrays.items()}, pir=True)
        shutil.copy(os.path.join(HERE, "vocab-tiny.txt"), os.path.join(hub, "assets", "vocab.txt"))
        with open(os.path.join(hub, "assets", "bert_config.json"), "w") as f:
            json.dump({"attention_probs_dropout_prob": 0.1, "hidden_act": "gelu", "hidden_dropout_prob": 0.1,
                       "hidden_size": config["hidden_size"], "initializer_range": 0.02,
                       "intermediate_size": config["intermediate_size"], "max_position_embeddings": config["max_position_embeddings"],
                       "num_attention_heads": config["num_attention_heads"], "num_hidden_layers": 1,
                       "type_vocab_size": config["type_vocab_size"], "vocab_size": config["vocab_size"]}, f, indent=2)
        write("inference", fresh_dir("paddle", "inference-pdmodel"), arrays, pir=False)
        write("inference", fresh_dir("paddle", "inference-pir"), arrays, pir=True)
        write("static-save", fresh_dir("paddle", "static-save"), arrays, pir=True)
        # A PaddleHub ModuleV1 folder (model/__model__ + prefixed per-variable files), with two small known tables.
        small = {"@HUB_tiny@word_embedding": np.arange(16, dtype=np.float32).reshape(4, 4),
                 "@HUB_tiny@pos_embedding": np.arange(8, dtype=np.float32).reshape(2, 4) * 0.5}
        write("module-v1", fresh_dir("paddle", "hub-module-v1"), small, pir=False)


# Runs under the legacy Paddle (2.6): a PaddleNLP-shaped BertModel (embeddings.*, encoder.layers.N.self_attn.q_proj,
# linear1, norm1, pooler.dense) loaded with the given arrays, exported with paddle.jit.save: a .pdmodel whose
# parameters have automatic names (linear_3.w_0) and the .pdiparams.info table mapping them to structured names.
PADDLE_JIT_WRITER = r"""
import sys
import numpy as np
import paddle
from paddle import nn
arrays, out, (vocab, hidden, layers, heads, inter, positions, types) = np.load(sys.argv[1]), sys.argv[2], map(int, sys.argv[3:10])

class Embeddings(nn.Layer):
    def __init__(self):
        super().__init__()
        self.word_embeddings = nn.Embedding(vocab, hidden)
        self.position_embeddings = nn.Embedding(positions, hidden)
        self.token_type_embeddings = nn.Embedding(types, hidden)
        self.layer_norm = nn.LayerNorm(hidden, epsilon=1e-12)

    def forward(self, input_ids):
        positions = paddle.arange(input_ids.shape[1], dtype="int64").unsqueeze(0)
        return self.layer_norm(self.word_embeddings(input_ids) + self.position_embeddings(positions)
                               + self.token_type_embeddings(paddle.zeros_like(input_ids)))

class Pooler(nn.Layer):
    def __init__(self):
        super().__init__()
        self.dense = nn.Linear(hidden, hidden)

    def forward(self, x):
        return paddle.tanh(self.dense(x[:, 0]))

class BertModel(nn.Layer):
    def __init__(self):
        super().__init__()
        self.embeddings = Embeddings()
        layer = nn.TransformerEncoderLayer(hidden, heads, inter, dropout=0.0, activation="gelu", attn_dropout=0.0, act_dropout=0.0)
        self.encoder = nn.TransformerEncoder(layer, layers)
        self.pooler = Pooler()

    def forward(self, input_ids):
        states = self.encoder(self.embeddings(input_ids))
        return states, self.pooler(states)

model = BertModel()
missing, unexpected = model.set_state_dict({k: arrays[k] for k in arrays.files})
assert not missing and not unexpected, (missing, unexpected)
model.eval()
paddle.jit.save(model, out + "/inference", input_spec=[paddle.static.InputSpec([None, None], "int64", "input_ids")])
"""


def paddle_jit_export():
    """A tiny BERT (hidden 8) from transformers, exported the way PaddleNLP exports inference models
    (paddle.jit.save under Paddle 2.6: .pdmodel, .pdiparams, .pdiparams.info), with its HF weights beside it."""
    import subprocess
    import tempfile
    from transformers import BertConfig, BertModel
    torch.manual_seed(23)
    config = BertConfig(vocab_size=16, hidden_size=8, num_hidden_layers=1, num_attention_heads=2, intermediate_size=16,
                        max_position_embeddings=12, type_vocab_size=2)
    model = BertModel(config).eval()
    weights = {k: v.detach().numpy().copy() for k, v in model.state_dict().items() if "position_ids" not in k}
    from safetensors.numpy import save_file as np_save
    np_save(weights, path("paddle", "jit-export.reference.safetensors"), metadata={"format": "pt"})
    renames = [("embeddings.LayerNorm.", "embeddings.layer_norm."), ("encoder.layer.", "encoder.layers."),
               ("attention.self.query.", "self_attn.q_proj."), ("attention.self.key.", "self_attn.k_proj."),
               ("attention.self.value.", "self_attn.v_proj."), ("attention.output.dense.", "self_attn.out_proj."),
               ("intermediate.dense.", "linear1."), ("attention.output.LayerNorm.", "norm1."),
               ("output.dense.", "linear2."), ("output.LayerNorm.", "norm2.")]
    arrays = {}
    for name, value in weights.items():
        new = name
        for a, b in renames:
            new = new.replace(a, b)
        arrays[new] = np.ascontiguousarray(value.T) if value.ndim == 2 and "embeddings" not in name else value
    # The same weights as paddle.save writes them in pickle protocol 3 (the other .pdparams samples use 2 and 4).
    import paddle
    import inspect
    import paddle.framework.io as paddle_io
    state = {"bert." + k: paddle.to_tensor(v) for k, v in arrays.items()}
    paddle.save(state, path("paddle", "jit-export.p3.pdparams"), protocol=3)
    # And with big arrays split (UnpackBigParamInfor@@): Paddle's own splitter, its 2**30-byte limit lowered to 2**8
    # so the tiny tables split too (a real split needs arrays over 1 GiB). paddle.load must give the arrays back.
    source = inspect.getsource(paddle_io._unpack_saved_dict).replace("2**30", "2**8")
    scope = dict(vars(inspect.getmodule(paddle_io._unpack_saved_dict)))
    exec(source, scope)
    original = paddle_io._unpack_saved_dict
    paddle_io._unpack_saved_dict = scope["_unpack_saved_dict"]
    try:
        paddle.save(state, path("paddle", "jit-export.split.pdparams"), protocol=2)
    finally:
        paddle_io._unpack_saved_dict = original
    raw = pickle.load(open(path("paddle", "jit-export.split.pdparams"), "rb"))
    assert "UnpackBigParamInfor@@" in raw and "bert.embeddings.word_embeddings.weight@@.0" in raw, list(raw)[:5]
    back = paddle.load(path("paddle", "jit-export.split.pdparams"), return_numpy=True)
    assert all(np.array_equal(back["bert." + k], v) for k, v in arrays.items())
    d = fresh_dir("paddle", "jit-export")
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "arrays.npz")
        np.savez(npz, **arrays)
        sizes = [config.vocab_size, config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
                 config.intermediate_size, config.max_position_embeddings, config.type_vocab_size]
        script = os.path.join(tmp, "jit_writer.py")  # a file: dy2static reads the forward methods' source
        with open(script, "w") as f:
            f.write(PADDLE_JIT_WRITER)
        subprocess.run([paddle_legacy_python(), script, npz, d, *map(str, sizes)], check=True,
                       env=dict(os.environ, FLAGS_enable_pir_api="0", GLOG_minloglevel="3"), stdout=subprocess.DEVNULL)


def broken_paddle():
    """A .pdparams whose pickle would run os.system, and a truncated one."""
    import pickle

    class Exec:
        def __reduce__(self):
            return (os.system, ("echo pwned",))

    d = fresh_dir("broken", "paddle")
    with open(os.path.join(d, "os-system.pdparams"), "wb") as f:
        pickle.dump({"w": Exec()}, f, protocol=4)
    good = open(os.path.join(HERE, "paddle", "rbt-tiny", "model_state.pdparams"), "rb").read()
    with open(os.path.join(d, "truncated.pdparams"), "wb") as f:
        f.write(good[: len(good) // 2])

    # Inference models and LoDTensor files written by Paddle (a small two-variable program), then damaged.
    import subprocess
    import tempfile
    arrays = {"pos_embedding": np.arange(8, dtype=np.float32).reshape(2, 4),
              "word_embedding": np.arange(16, dtype=np.float32).reshape(4, 4)}
    with tempfile.TemporaryDirectory() as tmp:
        npz = os.path.join(tmp, "arrays.npz")
        np.savez(npz, **arrays)
        env = dict(os.environ, FLAGS_enable_pir_api="0", GLOG_minloglevel="3")
        for mode in ("inference", "vars"):
            os.makedirs(os.path.join(tmp, mode))
            subprocess.run([paddle_legacy_python(), "-c", PADDLE_STATIC_WRITER, mode, npz, os.path.join(tmp, mode)], check=True,
                           env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        program = open(os.path.join(tmp, "inference", "inference.pdmodel"), "rb").read()
        params = open(os.path.join(tmp, "inference", "inference.pdiparams"), "rb").read()
        first = open(os.path.join(tmp, "vars", "pos_embedding"), "rb").read()  # the first record (sorted names)
        assert params.startswith(first)
        for name, data in [("missing-record", first), ("truncated-record", params[:-10]), ("extra-bytes", params + first)]:
            out = fresh_dir("broken", "paddle", name)
            open(os.path.join(out, "inference.pdmodel"), "wb").write(program)
            open(os.path.join(out, "inference.pdiparams"), "wb").write(data)
        # A per-variable file whose descriptor claims [1048576, 1048576] floats (4 TiB) over 64 bytes of data.
        record = open(os.path.join(tmp, "vars", "word_embedding"), "rb").read()
        size = struct.unpack_from("<i", record, 16)[0]
        desc = record[20:20 + size]
        assert desc == bytes([0x08, 0x05, 0x10, 0x04, 0x10, 0x04]), desc
        huge = bytes([0x08, 0x05, 0x10, 0x80, 0x80, 0x40, 0x10, 0x80, 0x80, 0x40])
        out = fresh_dir("broken", "paddle", "huge-shape")
        open(os.path.join(out, "word_embedding"), "wb").write(record[:16] + struct.pack("<i", len(huge)) + huge + record[20 + size:])


def hostile_inputs():
    """Samples/broken/hostile: small files that attack the readers (see Samples/hostile.py)."""
    sys.path.insert(0, HERE)
    import hostile
    hostile.main()

# ---------------------------------------------------------------------------------------------------------
# Fine-tuned heads (issue 13): run_classifier / run_squad TF1 checkpoints, a PaddleNLP classifier, a reranker and a
# sentence-transformers folder, each with the outputs transformers (or sentence-transformers) computes on its weights
# ---------------------------------------------------------------------------------------------------------

HEAD_TEXTS = [("the model is fast and safe", "we keep the first three layers"),
              ("我们的模型", "这个模型很快"),
              ("convert the weights", "check the tensor")]


def heads_tiny_config(**extra):
    from transformers import BertConfig
    n_vocab = sum(1 for _ in open(os.path.join(HERE, "vocab-tiny.txt"), encoding="utf-8"))
    return BertConfig(vocab_size=n_vocab, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=32, max_position_embeddings=32, type_vocab_size=2, **extra)


def perturb_norms(model):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or "layer_norm" in name:
                p.add_(torch.randn_like(p) * 0.1)
            if name.endswith("classifier.bias") or name.endswith("qa_outputs.bias"):
                p.add_(torch.randn_like(p) * 0.1)
    return model


def head_inputs(pairs=True, length=16):
    from transformers import BertTokenizer
    tokenizer = BertTokenizer(os.path.join(HERE, "vocab-tiny.txt"), do_lower_case=True, tokenize_chinese_chars=True)
    first = [a for a, _ in HEAD_TEXTS]
    second = [b for _, b in HEAD_TEXTS] if pairs else None
    enc = tokenizer(first, second, padding="max_length", max_length=length, truncation=True, return_tensors="pt")
    return {k: enc[k].to(torch.int64).contiguous() for k in ("input_ids", "token_type_ids", "attention_mask")}


def save_golden(name, inputs, outputs, info):
    tensors = dict(inputs)
    tensors.update({k: v.detach().float().contiguous() for k, v in outputs.items()})
    save_file(tensors, path("heads", name + ".golden.safetensors"),
              metadata={"info": json.dumps(dict(info, torch=torch.__version__, transformers=__import__("transformers").__version__),
                                           ensure_ascii=False, sort_keys=True)})


HEAD_LABELS = ["negative", "neutral", "positive"]


def heads_classifier():
    from transformers import BertForSequenceClassification
    torch.manual_seed(13)
    labels = HEAD_LABELS
    config = heads_tiny_config(id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    return perturb_norms(BertForSequenceClassification(config).eval())


def paddle_heads():
    """The run_classifier sample's weights as PaddleNLP saves BertForSequenceClassification (a separate group: Paddle
    and TensorFlow cannot be imported into one process)."""
    classifier = heads_classifier()
    config = classifier.config
    labels = HEAD_LABELS
    vocab = os.path.join(HERE, "vocab-tiny.txt")
    state = {k: v.numpy().copy() for k, v in classifier.state_dict().items()}
    # The same classifier as PaddleNLP saves BertForSequenceClassification: bert.* Paddle names, Linear [in, out].
    import paddle
    renames = [("embeddings.LayerNorm.", "embeddings.layer_norm."), ("encoder.layer.", "encoder.layers."),
               ("attention.self.query.", "self_attn.q_proj."), ("attention.self.key.", "self_attn.k_proj."),
               ("attention.self.value.", "self_attn.v_proj."), ("attention.output.dense.", "self_attn.out_proj."),
               ("intermediate.dense.", "linear1."), ("attention.output.LayerNorm.", "norm1."),
               ("output.dense.", "linear2."), ("output.LayerNorm.", "norm2.")]
    paddle_state = {}
    for name, value in state.items():
        if "position_ids" in name:
            continue
        new = name
        for a, b in renames:
            new = new.replace(a, b)
        if value.ndim == 2 and name.endswith(".weight") and "embeddings" not in name:
            value = np.ascontiguousarray(value.T)
        paddle_state[new] = paddle.to_tensor(value)
    d = fresh_dir("heads", "paddle-classifier")
    paddle.save(paddle_state, os.path.join(d, "model_state.pdparams"))
    init_args = {k: config.to_dict()[k] for k in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
                                                  "intermediate_size", "hidden_act", "hidden_dropout_prob",
                                                  "attention_probs_dropout_prob", "max_position_embeddings",
                                                  "type_vocab_size", "initializer_range", "pad_token_id")}
    with open(os.path.join(d, "model_config.json"), "w") as f:
        json.dump({"init_args": [dict(init_args, init_class="BertModel")], "num_classes": len(labels),
                   "init_class": "BertForSequenceClassification"}, f, indent=2)
    shutil.copy(vocab, os.path.join(d, "vocab.txt"))



def task_heads():
    # transformers' model classes (and sentence-transformers) are imported before TensorFlow: the other order aborts
    # with an LLVM option registered twice.
    from transformers import (BertForSequenceClassification, BertForTokenClassification, BertForQuestionAnswering,
                              AlbertConfig, AlbertForSequenceClassification, BertModel, BertTokenizer)
    from sentence_transformers import SentenceTransformer, models
    import tensorflow as tf
    tf.config.set_visible_devices([], "GPU")
    for name in ("bert-classifier-tf1", "bert-squad-tf1", "albert-classifier-tf1", "bert-reranker", "roberta-classifier", "sbert-tiny"):
        shutil.rmtree(os.path.join(HERE, "heads", name), ignore_errors=True)
    labels = HEAD_LABELS
    vocab = os.path.join(HERE, "vocab-tiny.txt")

    def google_config(config):
        keys = ("attention_probs_dropout_prob", "hidden_act", "hidden_dropout_prob", "hidden_size", "initializer_range",
                "intermediate_size", "max_position_embeddings", "num_attention_heads", "num_hidden_layers",
                "type_vocab_size", "vocab_size")
        return {k: config.to_dict()[k] for k in keys}

    def tf_folder(name, config, cfg_name="bert_config.json", cfg=None):
        d = fresh_dir("heads", name)
        with open(os.path.join(d, cfg_name), "w") as f:
            json.dump(cfg or google_config(config), f, indent=2)
        shutil.copy(vocab, os.path.join(d, "vocab.txt"))
        return d

    # 1. run_classifier.py: bert/* (pooler included) + output_weights [num_labels, hidden] + output_bias, Adam slots.
    classifier = heads_classifier()
    config = classifier.config
    state = {k: v.numpy().copy() for k, v in classifier.state_dict().items()}
    encoder = {k: v for k, v in state.items() if k.startswith("bert.")}
    names = google_bert_names(encoder.keys(), prefix="bert.")
    variables = {names[k][0]: to_tf_value(v, names[k][1]) for k, v in encoder.items()}
    variables["output_weights"] = state["classifier.weight"]  # [num_labels, hidden], as run_classifier.py creates it
    variables["output_bias"] = state["classifier.bias"]
    d = tf_folder("bert-classifier-tf1", config)
    write_tf1_checkpoint(os.path.join(d, "model.ckpt-30"), variables, extra=adam_slots(variables, 14))
    inputs = head_inputs()
    with torch.no_grad():
        sequence = classifier(**inputs, output_hidden_states=True)
        # The same weights as a token classifier (run_classifier's names are used by NER scripts too): no pooler.
        tokens = BertForTokenClassification(config).eval()
        missing, unexpected = tokens.load_state_dict(classifier.state_dict(), strict=False)
        assert not missing and set(unexpected) == {"bert.pooler.dense.weight", "bert.pooler.dense.bias"}, (missing, unexpected)
        token_logits = tokens(**inputs).logits
    save_golden("bert-classifier", inputs, {"logits": sequence.logits, "token_logits": token_logits,
                                            "last_hidden_state": sequence.hidden_states[-1]},
                {"model": "BertForSequenceClassification / BertForTokenClassification", "texts": HEAD_TEXTS, "labels": labels})

    # 3. run_squad.py: cls/squad/output_weights [2, hidden] and output_bias; BertForQuestionAnswering has no pooler.
    torch.manual_seed(14)
    squad = perturb_norms(BertForQuestionAnswering(heads_tiny_config()).eval())
    qa_state = {k: v.numpy().copy() for k, v in squad.state_dict().items()}
    rng = np.random.default_rng(15)
    pooler = {"bert.pooler.dense.weight": rng.standard_normal((16, 16)).astype(np.float32) * 0.02,
              "bert.pooler.dense.bias": np.zeros(16, np.float32)}  # modeling.BertModel always builds the pooler
    encoder = dict({k: v for k, v in qa_state.items() if k.startswith("bert.")}, **pooler)
    names = google_bert_names(encoder.keys(), prefix="bert.")
    variables = {names[k][0]: to_tf_value(v, names[k][1]) for k, v in encoder.items()}
    variables["cls/squad/output_weights"] = qa_state["qa_outputs.weight"]
    variables["cls/squad/output_bias"] = qa_state["qa_outputs.bias"]
    d = tf_folder("bert-squad-tf1", squad.config)
    write_tf1_checkpoint(os.path.join(d, "model.ckpt-20"), variables, extra=adam_slots(variables, 16))
    qa_inputs = head_inputs()
    with torch.no_grad():
        answer = squad(**qa_inputs)
    save_golden("bert-squad", qa_inputs, {"start_logits": answer.start_logits, "end_logits": answer.end_logits},
                {"model": "BertForQuestionAnswering", "texts": HEAD_TEXTS})

    # 4. ALBERT's run_classifier (classifier_utils.py): the same output_weights / output_bias beside bert/* names.
    torch.manual_seed(17)
    n_vocab = config.vocab_size
    albert_config = AlbertConfig(vocab_size=n_vocab, embedding_size=8, hidden_size=16, num_hidden_layers=2,
                                 num_attention_heads=2, intermediate_size=32, max_position_embeddings=32,
                                 hidden_act="gelu_new", num_labels=2)
    albert = perturb_norms(AlbertForSequenceClassification(albert_config).eval())
    a_state = {k: v.numpy().copy() for k, v in albert.state_dict().items()}
    table = google_albert_names("albert.")
    table.update({"classifier.weight": ("output_weights", False), "classifier.bias": ("output_bias", False)})
    assert set(table) == set(k for k in a_state if "position_ids" not in k and "token_type_ids" not in k), set(a_state) ^ set(table)
    variables = {tf_name: to_tf_value(a_state[hf], t) for hf, (tf_name, t) in table.items()}
    google = {"attention_probs_dropout_prob": 0, "hidden_act": "gelu", "hidden_dropout_prob": 0, "embedding_size": 8,
              "hidden_size": 16, "initializer_range": 0.02, "intermediate_size": 32, "max_position_embeddings": 32,
              "num_attention_heads": 2, "num_hidden_layers": 2, "num_hidden_groups": 1, "inner_group_num": 1,
              "type_vocab_size": 2, "vocab_size": n_vocab}
    d = tf_folder("albert-classifier-tf1", None, cfg_name="albert_config.json", cfg=google)
    write_tf1_checkpoint(os.path.join(d, "model.ckpt-40"), variables, extra=adam_slots(variables, 18))
    with torch.no_grad():
        a_out = albert(**inputs)
    save_golden("albert-classifier", inputs, {"logits": a_out.logits}, {"model": "AlbertForSequenceClassification", "texts": HEAD_TEXTS})

    # 5. A reranker: a one-label BertForSequenceClassification saved by transformers (pairs → one relevance score).
    torch.manual_seed(19)
    reranker = perturb_norms(BertForSequenceClassification(heads_tiny_config(num_labels=1)).eval())
    d = fresh_dir("heads", "bert-reranker")
    reranker.save_pretrained(d)
    BertTokenizer(vocab, do_lower_case=True, tokenize_chinese_chars=True).save_pretrained(d)
    shutil.copy(vocab, os.path.join(d, "vocab.txt"))
    with torch.no_grad():
        scores = reranker(**inputs).logits
    save_golden("bert-reranker", inputs, {"logits": scores}, {"model": "BertForSequenceClassification (1 label)", "texts": HEAD_TEXTS})

    # 5b. RoBERTa's classification head (dense + tanh + out_proj on <s>, no pooler), saved by transformers.
    from transformers import RobertaConfig, RobertaForSequenceClassification
    torch.manual_seed(20)
    roberta = perturb_norms(RobertaForSequenceClassification(RobertaConfig(
        vocab_size=config.vocab_size, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=32,
        max_position_embeddings=40, type_vocab_size=1, pad_token_id=1, num_labels=2)).eval())
    d = fresh_dir("heads", "roberta-classifier")
    roberta.save_pretrained(d)
    roberta_inputs = {"input_ids": inputs["input_ids"].clone(), "attention_mask": inputs["attention_mask"].clone(),
                      "token_type_ids": torch.zeros_like(inputs["token_type_ids"])}
    roberta_inputs["input_ids"][roberta_inputs["attention_mask"] == 0] = 1  # RoBERTa pads with id 1
    with torch.no_grad():
        r_out = roberta(**roberta_inputs)
    save_golden("roberta-classifier", roberta_inputs, {"logits": r_out.logits}, {"model": "RobertaForSequenceClassification"})

    # 6. The pre-training heads of the TF1 sample (tensorflow/bert-tiny-tf1): BertForPreTraining on its reference weights.
    from transformers import BertConfig, BertForPreTraining
    pretraining = BertForPreTraining(BertConfig.from_pretrained(os.path.join(HERE, "bert-tiny"))).eval()
    weights = load_file(os.path.join(HERE, "tensorflow", "bert-tiny-tf1.reference.safetensors"))
    missing, unexpected = pretraining.load_state_dict(weights, strict=False)
    assert not unexpected and set(missing) <= {"cls.predictions.decoder.weight", "cls.predictions.decoder.bias"}, (missing, unexpected)
    pretraining.tie_weights()
    mlm_inputs = head_inputs(length=12)
    with torch.no_grad():
        result = pretraining(**mlm_inputs)
    save_golden("bert-pretraining", mlm_inputs, {"prediction_logits": result.prediction_logits,
                                                 "seq_relationship_logits": result.seq_relationship_logits},
                {"model": "BertForPreTraining (tensorflow/bert-tiny-tf1)", "texts": HEAD_TEXTS})

    # 7. sentence-transformers: the tiny encoder, mean pooling, a Dense 16 → 8 (tanh) and Normalize.
    torch.manual_seed(21)
    work = fresh_dir("heads", "_encoder")
    perturb_norms(BertModel(heads_tiny_config()).eval()).save_pretrained(work)
    BertTokenizer(vocab, do_lower_case=True, tokenize_chinese_chars=True).save_pretrained(work)
    shutil.copy(vocab, os.path.join(work, "vocab.txt"))
    transformer = models.Transformer(work, max_seq_length=32)
    pooling = models.Pooling(16, pooling_mode="mean")
    dense = models.Dense(16, 8, activation_function=torch.nn.Tanh())
    st = SentenceTransformer(modules=[transformer, pooling, dense, models.Normalize()], device="cpu").eval()
    d = os.path.join(HERE, "heads", "sbert-tiny")
    st.save(d)
    os.remove(os.path.join(d, "README.md"))  # the generated model card: nothing the tests read
    shutil.rmtree(work)
    texts = [a for a, _ in HEAD_TEXTS]
    features = st.tokenize(texts)
    embeddings = st.encode(texts, convert_to_tensor=True, normalize_embeddings=False)
    save_golden("sbert-tiny", {k: features[k].to(torch.int64).contiguous() for k in ("input_ids", "token_type_ids", "attention_mask")},
                {"sentence_embedding": embeddings}, {"model": "sentence-transformers (mean, Dense 16→8 tanh, Normalize)", "texts": texts,
                                                      "sentence_transformers": __import__("sentence_transformers").__version__})


# ---------------------------------------------------------------------------------------------------------
# Keras HDF5 (tf_model.h5) and Flax (flax_model.msgpack) checkpoints from transformers 4.x
# ---------------------------------------------------------------------------------------------------------

def keras_flax_python(kind):
    """The Python of a venv with transformers 4.46.3 and TensorFlow (`tf`) or Flax (`flax`): KERAS_TF_PYTHON /
    FLAX_PYTHON, else .venv-tf4 / .venv-flax4 at the repository root (Samples/keras_flax_writer.py says how to make
    them). transformers 5 has no TF or Flax classes."""
    variable, venv = {"tf": ("KERAS_TF_PYTHON", ".venv-tf4"), "flax": ("FLAX_PYTHON", ".venv-flax4")}[kind]
    return os.environ.get(variable, os.path.join(HERE, "..", venv, "bin", "python"))


def keras_flax():
    """Tiny PyTorch models (seeded, transformers 5), converted by transformers 4.46.3's own TF and Flax classes:
    keras-flax/<name>-tf/tf_model.h5 and keras-flax/<name>-flax/flax_model.msgpack (a sharded one too) with
    config.json (and vocab.txt), beside keras-flax/reference/<name>.safetensors, the PyTorch weights each was made
    from; keras-flax/keras3/ holds Keras 3 files (refused with a clear error), keras-flax/hostile/ broken files."""
    import subprocess
    import tempfile
    from transformers import AlbertConfig, AlbertModel, BertForMaskedLM, BertForQuestionAnswering, BertForSequenceClassification, BertModel

    vocab = os.path.join(HERE, "vocab-tiny.txt")
    root = fresh_dir("keras-flax")
    tf_python, flax_python = keras_flax_python("tf"), keras_flax_python("flax")
    writer = os.path.join(HERE, "keras_flax_writer.py")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1", JAX_PLATFORMS="cpu", PYTHONHASHSEED="0")

    def run(python, *args):
        subprocess.run([python, writer, *args], check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    albert_config = AlbertConfig(vocab_size=84, embedding_size=8, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                                 intermediate_size=32, max_position_embeddings=32, type_vocab_size=2)
    models = [
        # name, PyTorch class, config, TF class, Flax class
        ("bert", BertModel, heads_tiny_config(), "BertModel", "BertModel"),
        ("albert", AlbertModel, albert_config, "AlbertModel", "AlbertModel"),
        ("bert-cls", BertForSequenceClassification,
         heads_tiny_config(num_labels=3, id2label={0: "negative", 1: "neutral", 2: "positive"},
                           label2id={"negative": 0, "neutral": 1, "positive": 2}),
         "BertForSequenceClassification", "BertForSequenceClassification"),
        ("bert-mlm", BertForMaskedLM, heads_tiny_config(), "BertForMaskedLM", None),
        ("bert-qa", BertForQuestionAnswering, heads_tiny_config(), "BertForQuestionAnswering", None),
    ]
    with tempfile.TemporaryDirectory() as tmp:
        for seed, (name, cls, config, tf_class, flax_class) in enumerate(models):
            torch.manual_seed(100 + seed)
            model = perturb_norms(cls(config).eval())
            src = os.path.join(tmp, name)
            model.save_pretrained(src)
            shutil.copy(os.path.join(src, "model.safetensors"), path("keras-flax", "reference", name + ".safetensors"))
            for kind, cls_name in (("tf", tf_class), ("flax", flax_class)):
                if cls_name is None:
                    continue
                out = os.path.join(root, f"{name}-{kind}")
                run(tf_python if kind == "tf" else flax_python, kind, cls_name, src, out)
                if name != "albert":
                    shutil.copy(vocab, os.path.join(out, "vocab.txt"))
            if name == "bert":
                out = os.path.join(root, "bert-flax-sharded")
                run(flax_python, "flax", flax_class, src, out, "4KB")
                shutil.copy(vocab, os.path.join(out, "vocab.txt"))
                # Arrays over 1 KiB split into flax's chunked-array maps (flax does this above 1 GiB).
                run(flax_python, "flax-chunked", flax_class, src, os.path.join(root, "bert-flax-chunked"), "1024")
    run(tf_python, "keras3", fresh_dir("keras-flax", "keras3"))
    hostile = fresh_dir("keras-flax", "hostile")
    run(tf_python, "hostile-h5", hostile)
    run(flax_python, "hostile-msgpack", os.path.join(root, "bert-flax", "flax_model.msgpack"), hostile)


def hostile_keras_links():
    """Samples/broken/hostile/keras: HDF5 files (h5py, Keras 2 layout) whose group structure or dataset storage
    attacks the walk that finds a Keras file's weights (cycles, shared groups, deep nesting) or the library's
    decoders (filters other than deflate / shuffle / fletcher32, chunks far larger than their dataset)."""
    import h5py

    out = fresh_dir("broken", "hostile", "keras")
    w = np.arange(6, dtype=np.float32).reshape(2, 3)

    def keras_file(name, build):
        with h5py.File(os.path.join(out, name), "w") as f:
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"2.17.0"
            f.attrs["layer_names"] = np.array([b"dense"])
            g = f.create_group("dense")
            g.attrs["weight_names"] = np.array([b"model/dense/kernel:0"])
            build(f, g)

    def cycle(f, g):  # a hard link from a group back to its ancestor
        g.create_dataset("model/dense/kernel:0", data=w)
        g["model/dense/loop"] = g
    keras_file("hard-link-cycle.h5", cycle)

    def shared(f, g):  # one group with two parents: walks could double at each level
        g.create_dataset("model/dense/kernel:0", data=w)
        g["model/again"] = g["model/dense"]
    keras_file("shared-group.h5", shared)

    def deep(f, g):  # groups nested 100 deep
        g.create_dataset("/".join(["d"] * 100) + "/kernel:0", data=w)
    keras_file("deep-groups.h5", deep)

    def lzf(f, g):  # filter 32000 (h5py's own LZF): not one ModelPort lets the library run
        g.create_dataset("model/dense/kernel:0", data=w, compression="lzf")
    keras_file("lzf-filter.h5", lzf)

    def scaleoffset(f, g):  # filter 6 (scale-offset)
        g.create_dataset("model/dense/kernel:0", data=w, scaleoffset=2)
    keras_file("scaleoffset-filter.h5", scaleoffset)

    def huge_chunk(f, g):  # 6 elements in chunks of 4 Mi elements
        g.create_dataset("model/dense/kernel:0", data=w, maxshape=(None, None), chunks=(2048, 2048), compression="gzip")
    keras_file("huge-chunk.h5", huge_chunk)

    # Not hostile, just unknown to the naming rules: read with a note, refused by --strict.
    def unknown(f, g):
        g.create_dataset("model/dense/kernel:0", data=w)
        g.create_dataset("model/norm/moving_mean:0", data=w[0])
    keras_file("unknown-name.h5", unknown)

    # The Flax counterpart, as flax.serialization writes it (a map of maps; arrays as MessagePack extension type 1
    # holding [shape, dtype name, bytes], flax `_ndarray_to_bytes`), one path ending in a key no rule knows. No
    # msgpack package in this venv: the few MessagePack forms needed (fixmap, fixarray, str 8, bin 8, ext 8,
    # positive fixint; the MessagePack specification) are written here.
    import struct

    def pack(value):
        if isinstance(value, np.ndarray):  # an array: extension type 1 (ext 8)
            payload = pack([list(value.shape), value.dtype.name, value.tobytes()])
            return bytes([0xC7]) + struct.pack("<Bb", len(payload), 1) + payload
        if isinstance(value, dict):
            return bytes([0x80 | len(value)]) + b"".join(pack(k) + pack(v) for k, v in value.items())
        if isinstance(value, list):
            return bytes([0x90 | len(value)]) + b"".join(pack(v) for v in value)
        if isinstance(value, str):
            return bytes([0xD9, len(value)]) + value.encode()
        if isinstance(value, bytes):
            return bytes([0xC4, len(value)]) + value
        if isinstance(value, int):
            return bytes([value])
        raise TypeError(value)

    tree = {"dense": {"kernel": w, "bias": w[0]}, "norm": {"moving_mean": w[0]}}
    with open(path("broken", "hostile", "flax", "unknown-key.msgpack"), "wb") as f:
        f.write(pack(tree))


def onnx_exports():
    """torch.onnx exports made the way optimum exports (`optimum-cli export onnx`: the legacy TorchScript exporter,
    opset 17, inputs input_ids / attention_mask / token_type_ids and outputs under transformers' names, dynamic
    batch_size / sequence_length axes, constant folding) beside the same models' safetensors folders, so the Swift tests
    read optimum's layout back bit-exactly; and masked-LM / pre-training sources that no other group has (RoBERTa's
    lm_head, ALBERT's predictions + sop_classifier) for check_onnx.py. torch's exporter needs the onnx package
    (Samples/requirements-onnx.txt); without it the group is skipped."""
    try:
        import onnx
        onnx.load_model_from_string
    except (ImportError, AttributeError):
        print("onnx_exports skipped: torch.onnx needs the onnx package (pip install -r Samples/requirements-onnx.txt)")
        return
    from transformers import (AlbertConfig, AlbertForPreTraining, BertConfig, BertForSequenceClassification, BertModel,
                              BertTokenizer, RobertaConfig, RobertaForMaskedLM)
    root = fresh_dir("onnx")
    vocab = os.path.join(HERE, "vocab-tiny.txt")
    n_vocab = sum(1 for _ in open(vocab, encoding="utf-8"))

    def trained(model, seed):
        # Every parameter distinct, as after training (freshly initialised biases and norms are all zeros and ones,
        # which the exporter would store once).
        g = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            for _, p in model.named_parameters():
                p.add_(torch.randn(p.shape, generator=g) * 0.05)
        return model.eval()

    def export(model, outputs, name, types=True):
        inputs = ["input_ids", "attention_mask"] + (["token_type_ids"] if types else [])

        class Traced(type(model)):  # keyword arguments as optimum's patched forward passes them; tuple outputs
            def forward(self, *args):
                out = super().forward(**dict(zip(inputs, args)))
                return tuple(out[k] for k in outputs)
        model.__class__ = Traced
        ids = torch.tensor([[2, 10, 11, 12, 3, 0], [2, 13, 14, 3, 0, 0]], dtype=torch.int64)
        args = (ids, (ids != 0).long()) + ((torch.zeros_like(ids),) if types else ())
        axes = {k: {0: "batch_size", 1: "sequence_length"} for k in inputs}
        for k in outputs:
            axes[k] = {0: "batch_size"} if k in ("pooler_output",) or k == "logits" and "Classification" in name else \
                {0: "batch_size", 1: "sequence_length"}
        d = os.path.join(root, name + "-optimum")
        os.makedirs(d)
        torch.onnx.export(model, args, os.path.join(d, "model.onnx"), input_names=inputs, output_names=list(outputs),
                          dynamic_axes=axes, opset_version=17, do_constant_folding=True, dynamo=False)
        model.__class__ = Traced.__bases__[0]
        return d

    def folder(model, name, with_export=None):
        d = os.path.join(root, name)
        model.save_pretrained(d)
        if with_export:
            BertTokenizer(vocab, do_lower_case=True).save_pretrained(d)
        if with_export:
            for f in os.listdir(d):
                if f != "model.safetensors":
                    shutil.copy(os.path.join(d, f), os.path.join(with_export, f))

    # 1. A tiny BertModel and a tiny classifier: the safetensors folder and optimum's folder (model.onnx + config +
    #    tokenizer) of the same weights.
    torch.manual_seed(31)
    bcfg = BertConfig(vocab_size=n_vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=64,
                      max_position_embeddings=40, type_vocab_size=2)
    bert = trained(BertModel(bcfg), 32)
    folder(bert, "bert-tiny", export(bert, ["last_hidden_state", "pooler_output"], "bert-tiny"))
    torch.manual_seed(33)
    classifier = trained(BertForSequenceClassification(heads_tiny_config(num_labels=3)), 34)
    folder(classifier, "bert-classifier", export(classifier, ["logits"], "bert-classifier"))

    # 2. Masked-LM and pre-training sources for check_onnx.py: RoBERTa's lm_head, ALBERT's predictions + SOP.
    torch.manual_seed(35)
    rcfg = RobertaConfig(vocab_size=n_vocab, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                         intermediate_size=64, max_position_embeddings=40, type_vocab_size=1, pad_token_id=1)
    folder(trained(RobertaForMaskedLM(rcfg), 36), "roberta-mlm")
    torch.manual_seed(37)
    acfg = AlbertConfig(vocab_size=n_vocab, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=64, max_position_embeddings=40)
    folder(trained(AlbertForPreTraining(acfg), 38), "albert-pretraining")


def main():
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    print(f"torch {torch.__version__}, safetensors {safetensors.__version__}, numpy {np.__version__}")
    bert_tiny()
    safetensors_references()
    float_casts()
    broken_safetensors()
    tensorflow_checkpoints()
    tensorflow_unnamed_tf2()
    broken_tensorflow()
    hostile_tensorflow()
    pytorch_checkpoints()
    encoder_goldens()
    tokenizer_fixture()
    tokenizer_goldens()
    perceiver_tiny()
    gguf_references()
    kquant_references()
    packed_references()
    truncated_golden()
    paddle_checkpoints()
    paddle_static_checkpoints()
    paddle_jit_export()
    broken_paddle()
    hostile_inputs()
    task_heads()
    paddle_heads()
    keras_flax()
    hostile_keras_links()
    onnx_exports()
    print("samples written to", HERE)


if __name__ == "__main__":
    if len(sys.argv) > 1:  # e.g. `generate.py kquant_references`: one group only
        for group in sys.argv[1:]:
            globals()[group]()
    else:
        main()
