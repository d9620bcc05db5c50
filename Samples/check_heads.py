#!/usr/bin/env python3
"""Do fine-tuned models keep their heads through ModelPort? (run once by hand; needs torch, transformers,
sentence-transformers)

  check_heads.py MODELPORT_BINARY

Converts each sample in Samples/heads to a Hugging Face folder (directly, through f16, through GGUF and back, through
--to paddle and back, and with --keep-layers 1), loads it with transformers' Auto class for its task with
output_loading_info, requires no missing and no unexpected keys, and compares the head outputs with the goldens that
transformers / sentence-transformers computed on the source weights.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors import safe_open
from safetensors.torch import load_file
from transformers import (AutoModel, AutoModelForPreTraining, AutoModelForQuestionAnswering, AutoModelForSequenceClassification,
                          AutoModelForTokenClassification)

HERE = os.path.dirname(os.path.abspath(__file__))
AUTO = {"ForSequenceClassification": AutoModelForSequenceClassification, "ForTokenClassification": AutoModelForTokenClassification,
        "ForQuestionAnswering": AutoModelForQuestionAnswering, "ForPreTraining": AutoModelForPreTraining, "Model": AutoModel}
CASES = [
    # sample, extra convert args, golden, {output: golden tensor}, class
    ("bert-classifier-tf1", ["--labels", "negative,neutral,positive"], "bert-classifier", {"logits": "logits"}, "BertForSequenceClassification"),
    ("bert-classifier-tf1", ["--task", "token-classification"], "bert-classifier", {"logits": "token_logits"}, "BertForTokenClassification"),
    ("bert-squad-tf1", [], "bert-squad", {"start_logits": "start_logits", "end_logits": "end_logits"}, "BertForQuestionAnswering"),
    ("albert-classifier-tf1", [], "albert-classifier", {"logits": "logits"}, "AlbertForSequenceClassification"),
    ("paddle-classifier", [], "bert-classifier", {"logits": "logits"}, "BertForSequenceClassification"),
    ("bert-reranker", [], "bert-reranker", {"logits": "logits"}, "BertForSequenceClassification"),
    ("roberta-classifier", [], "roberta-classifier", {"logits": "logits"}, "RobertaForSequenceClassification"),
    ("../tensorflow/bert-tiny-tf1", [], "bert-pretraining", {"prediction_logits": "prediction_logits",
                                                            "seq_relationship_logits": "seq_relationship_logits"}, "BertForPreTraining"),
]


def run(binary, *args):
    subprocess.run([binary, *args], check=True, stdout=subprocess.DEVNULL)


def load(folder, cls):
    auto = next(v for k, v in AUTO.items() if cls.endswith(k))
    model, info = auto.from_pretrained(folder, output_loading_info=True)
    assert type(model).__name__ == cls, (folder, type(model).__name__, cls)
    bad = {k: v for k, v in info.items() if k in ("missing_keys", "unexpected_keys", "mismatched_keys") and v}
    return model.eval(), bad


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="modelport-heads-")
    failures = 0
    for i, (sample, extra, golden_name, outputs, cls) in enumerate(CASES):
        golden = load_file(os.path.join(HERE, "heads", golden_name + ".golden.safetensors"))
        inputs = {k: golden[k] for k in ("input_ids", "token_type_ids", "attention_mask")}
        source = os.path.join(HERE, "heads", sample)
        routes = {"hf": [], "f16": ["--dtype", "f16"]}
        for route, args in routes.items():
            out = os.path.join(work, f"{i}-{route}")
            run(binary, "convert", source, out, *args, *extra)
            model, bad = load(out, cls)
            with torch.no_grad():
                result = model(**inputs)
            worst = max(float((getattr(result, k).float() - golden[g]).abs().max()) for k, g in outputs.items())
            bar = 1e-5 if route == "hf" else 2e-2
            ok = not bad and worst <= bar
            failures += not ok
            print(f"{sample} {' '.join(extra)} → {route}: transformers loads {cls}, "
                  f"{'no missing/unexpected keys' if not bad else bad}; max |head − golden| {worst:.2e} (≤ {bar}) {'ok' if ok else 'FAIL'}")
        # Through GGUF and back: rerankers / classifiers keep their head in llama.cpp's cls tensors.
        if cls.endswith("ForSequenceClassification") and cls.startswith("Bert"):
            gguf = os.path.join(work, f"{i}.gguf")
            back = os.path.join(work, f"{i}-back")
            run(binary, "convert", source, gguf, *extra)
            run(binary, "convert", gguf, back)
            model, bad = load(back, cls)
            with torch.no_grad():
                worst = max(float((getattr(model(**inputs), k) - golden[g]).abs().max()) for k, g in outputs.items())
            ok = not bad and worst <= 1e-5
            failures += not ok
            print(f"{sample} → GGUF → hf: {cls}, {'no missing/unexpected keys' if not bad else bad}; max |head − golden| {worst:.2e} {'ok' if ok else 'FAIL'}")
            pd = os.path.join(work, f"{i}-paddle")
            back = os.path.join(work, f"{i}-paddle-back")
            run(binary, "convert", source, pd, "--to", "paddle", *extra)
            run(binary, "convert", pd, back)
            model, bad = load(back, cls)
            with torch.no_grad():
                worst = max(float((getattr(model(**inputs), k) - golden[g]).abs().max()) for k, g in outputs.items())
            ok = not bad and worst <= 1e-5
            failures += not ok
            print(f"{sample} → paddle → hf: {cls}, {'no missing/unexpected keys' if not bad else bad}; max |head − golden| {worst:.2e} {'ok' if ok else 'FAIL'}")
        # A truncated classifier keeps its head (and loads); its outputs need fine-tuning again, so only loading is checked.
        out = os.path.join(work, f"{i}-1layer")
        run(binary, "convert", source, out, "--keep-layers", "1", *extra)
        _, bad = load(out, cls)
        failures += bool(bad)
        print(f"{sample} --keep-layers 1: {cls}, {'no missing/unexpected keys' if not bad else bad} {'ok' if not bad else 'FAIL'}")

    # sentence-transformers: the converted folder (f16 too) loads in sentence-transformers with every module.
    from sentence_transformers import SentenceTransformer
    golden = load_file(os.path.join(HERE, "heads", "sbert-tiny.golden.safetensors"))
    with safe_open(os.path.join(HERE, "heads", "sbert-tiny.golden.safetensors"), "pt") as f:
        texts = json.loads(f.metadata()["info"])["texts"]
    for route, args, bar in [("hf", [], 1e-5), ("f16", ["--dtype", "f16"], 2e-2), ("1layer", ["--keep-layers", "1"], None)]:
        out = os.path.join(work, f"sbert-{route}")
        run(binary, "convert", os.path.join(HERE, "heads", "sbert-tiny"), out, *args)
        st = SentenceTransformer(out, device="cpu")
        modules = [type(m).__name__ for m in st]
        embedding = st.encode(texts, convert_to_tensor=True)
        worst = float((embedding.float() - golden["sentence_embedding"]).abs().max())
        ok = modules == ["Transformer", "Pooling", "Dense", "Normalize"] and (bar is None or worst <= bar)
        failures += not ok
        print(f"sbert-tiny → {route}: sentence-transformers loads {modules}; max |embedding − golden| {worst:.2e}"
              f"{'' if bar is None else f' (≤ {bar})'} {'ok' if ok else 'FAIL'}")
    print("all ok" if failures == 0 else f"{failures} FAILED")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
