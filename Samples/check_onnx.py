#!/usr/bin/env python3
"""Do ModelPort's ONNX graphs run in ONNX Runtime with transformers' outputs? (optional: needs onnx, onnxruntime,
torch, transformers, sentence-transformers; pinned in Samples/requirements-onnx.txt)

  check_onnx.py MODELPORT_BINARY

For every sample (TF, PyTorch, Paddle, safetensors sources; BERT, StructBERT, RBT, RoBERTa, ALBERT, COCO-LM; task
heads, masked-LM and pre-training heads, and a sentence-transformers folder) it writes an .onnx with `modelport convert --to onnx` (fp32, --dtype f16,
--dtype int8 (the smoothed form); fp32 and int8 again with --onnx-attention ort; int8 with --onnx-int8 fast and
per-token; the optimized graph of every int8 form but per-token must hold DynamicQuantizeMatMul and no MatMulInteger) and the Hugging Face folder of the same source (ModelPort's HF output is checked against transformers
by check_outputs.py; COCO-LM, which transformers lacks, against its committed golden), then runs both on random
inputs with padding at batch 1 and 8, lengths 1 and 128 (cut to the position table):
fp32 max |error| ≤ 1e-4, fp16 cosine ≥ 0.999, int8 smallest per-token cosine ≥ 0.99. It also lists the node types
of ORT's optimized graph (fused Attention / SkipLayerNormalization / Gelu kernels) and checks the fused graph's
outputs the same way. Prints one line per model and output, and `N passed, N failed`.
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers

HERE = os.path.dirname(os.path.abspath(__file__))
SAMPLES = [
    # sample, extra args
    ("bert-tiny", []),
    ("structbert-tiny", []),
    ("tensorflow/bert-tiny-tf1", ["--task", "encoder"]),
    ("tensorflow/bert-tiny-tf2", []),
    ("tensorflow/albert-tiny-tf1", ["--task", "encoder"]),
    ("pytorch/bert-tiny-zip", []),
    ("pytorch/roberta-tiny-zip", []),
    ("pytorch/albert-tiny-zip", []),
    ("paddle/rbt-tiny", []),
    ("paddle/bert-tiny-p2", []),
    ("heads/roberta-classifier", []),
    ("heads/bert-squad-tf1", []),
    ("heads/bert-classifier-tf1", ["--labels", "negative,neutral,positive"]),
    ("heads/bert-reranker", []),
    ("heads/albert-classifier-tf1", []),
    ("heads/sbert-tiny", []),
    ("cocolm-tiny", []),
    # masked-LM and pre-training heads in the graph: BERT's cls.predictions (+ seq_relationship), ALBERT's predictions
    # (+ sop_classifier), RoBERTa's lm_head; `--task masked-lm` gives optimum's fill-mask graph (`logits`)
    ("tensorflow/bert-tiny-tf1", []),
    ("tensorflow/bert-tiny-tf1", ["--task", "masked-lm"]),
    ("keras-flax/bert-mlm-tf", []),
    ("onnx/roberta-mlm", []),
    ("onnx/albert-pretraining", []),
]
RESULTS = {"passed": 0, "failed": 0}


def run(binary, *args):
    p = subprocess.run([binary, *args], capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"modelport {' '.join(args)}: {p.stderr.strip()}")
    return p.stdout


def check(ok, line):
    RESULTS["passed" if ok else "failed"] += 1
    print(("ok    " if ok else "FAIL  ") + line)


def cosines(a, b):
    a = a.reshape(-1, a.shape[-1]).astype(np.float64)
    b = b.reshape(-1, b.shape[-1]).astype(np.float64)
    num = (a * b).sum(-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return num / np.maximum(den, 1e-30)


def reference(folder):
    """A callable feed → {output name: array} computing what optimum's export of this folder outputs."""
    config = json.load(open(os.path.join(folder, "config.json")))
    if os.path.exists(os.path.join(folder, "modules.json")):
        from sentence_transformers import SentenceTransformer
        st = SentenceTransformer(folder, device="cpu")
        st.eval()

        def forward(feed):
            with torch.no_grad():
                out = st({k: torch.tensor(v) for k, v in feed.items()})
            return {"last_hidden_state": out["token_embeddings"].numpy(), "sentence_embedding": out["sentence_embedding"].numpy()}
        return forward
    arch = (config.get("architectures") or ["Model"])[0]
    auto = {"ForSequenceClassification": transformers.AutoModelForSequenceClassification,
            "ForTokenClassification": transformers.AutoModelForTokenClassification,
            "ForQuestionAnswering": transformers.AutoModelForQuestionAnswering,
            "ForMaskedLM": transformers.AutoModelForMaskedLM, "ForPreTraining": transformers.AutoModelForPreTraining}
    cls = next((c for s, c in auto.items() if arch.endswith(s)), transformers.AutoModel)
    model = cls.from_pretrained(folder).eval()

    def forward(feed):
        with torch.no_grad():
            out = model(**{k: torch.tensor(v) for k, v in feed.items()}, output_hidden_states=True)
        result = {}
        for name in ("last_hidden_state", "pooler_output", "logits", "start_logits", "end_logits", "prediction_logits",
                     "seq_relationship_logits", "sop_logits"):
            if name in out and out[name] is not None:
                result[name] = out[name].numpy()
        if "last_hidden_state" not in result:
            result["last_hidden_state"] = out["hidden_states"][-1].numpy()
        if arch.endswith("ForPreTraining"):  # the graph keeps the pooler, which *ForPreTrainingOutput does not return
            with torch.no_grad():
                base = getattr(model, model.base_model_prefix)(**{k: torch.tensor(v) for k, v in feed.items()})
            result["pooler_output"] = base.pooler_output.numpy()
        return result
    return forward


def cocolm_reference(golden_path):
    from safetensors.numpy import load_file
    g = load_file(golden_path)
    return g


def feeds(session, vocab, max_len, type_vocab, seed=0):
    rng = np.random.default_rng(seed)
    names = [i.name for i in session.get_inputs()]
    for batch, length in [(1, 1), (8, 128), (1, 128), (8, 1)]:
        length = max(1, min(length, max_len))
        ids = rng.integers(5, vocab, (batch, length))
        mask = np.ones((batch, length), np.int64)
        if batch > 1 and length > 2:
            for b in range(1, batch):
                mask[b, length - b * length // (2 * batch):] = 0  # padding of several lengths
        feed = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in names:
            types = np.zeros_like(ids)
            types[:, length // 2:] = 1 if type_vocab > 1 else 0
            feed["token_type_ids"] = types
        yield batch, length, feed


def compare(label, session, forward, config, precision):
    max_len = min(128, config.get("max_position_embeddings", 128) - (config.get("pad_token_id", 1) + 1 if config.get("model_type") == "roberta" else 0))
    for batch, length, feed in feeds(session, config["vocab_size"], max_len, config.get("type_vocab_size", 2)):
        got = dict(zip([o.name for o in session.get_outputs()], session.run(None, feed)))
        want = forward(feed)
        mask = feed["attention_mask"].astype(bool)
        for name, value in got.items():
            if name not in want:
                check(False, f"{label} [{batch}×{length}] {name}: no reference output")
                continue
            ref = want[name]
            if name == "last_hidden_state":  # padded positions are not compared (ORT's fused attention differs there)
                value, ref = value[mask], ref[mask]
            elif name in ("start_logits", "end_logits"):
                value, ref = value[mask][:, None], ref[mask][:, None]
            elif name in ("logits", "prediction_logits") and value.ndim == 3:
                value, ref = value[mask], ref[mask]
            err = float(np.abs(value - ref).max()) if value.size else 0.0
            cos = cosines(value, ref)
            worst = float(cos.min()) if cos.size else 1.0
            if precision == "fp32":
                ok = err <= 1e-4
            elif precision == "fp16":
                ok = worst >= 0.999
            else:
                ok = worst >= 0.99 or name in ("start_logits", "end_logits") and float(cosines(value.T, ref.T).min()) >= 0.99
            check(ok, f"{label} [{batch}×{length}] {name}: max |error| {err:.3g}, smallest cosine {worst:.6f}")


def optimized_types(path, work):
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = os.path.join(work, "optimized.onnx")
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    types = {}
    for node in onnx.load(options.optimized_model_filepath).graph.node:
        types[node.op_type] = types.get(node.op_type, 0) + 1
    return session, types


def main():
    binary = os.path.abspath(sys.argv[1])
    work = tempfile.mkdtemp(prefix="modelport-onnx-")
    only = sys.argv[2:]
    for sample, extra in SAMPLES:
        if only and sample not in only:
            continue
        source = os.path.join(HERE, sample)
        task = extra[extra.index("--task") + 1] if "--task" in extra else None
        label = sample + (f" --task {task}" if task else "")
        name = sample.replace("/", "-") + (f"-{task}" if task else "")
        hf = os.path.join(work, name + "-hf")
        try:
            if sample != "cocolm-tiny":
                run(binary, "convert", source, hf, *extra)
                config_path = os.path.join(hf, "config.json")
                config = json.load(open(config_path))
                if config.get("model_type") == "structbert":  # StructBERT computes as BERT; transformers knows only that name
                    config["model_type"] = "bert"
                    json.dump(config, open(config_path, "w"))
                forward = reference(hf)
            else:
                forward = None
            config = json.load(open(os.path.join(source if sample == "cocolm-tiny" else hf, "config.json")))
            ort_attention = ["--onnx-attention", "ort"]
            for precision, args, form in (("fp32", [], ""), ("fp16", ["--dtype", "f16"], ""), ("int8", ["--dtype", "int8", "--no-quality"], ""),
                                          ("fp32", ort_attention, " ort-attention"),
                                          ("int8", ["--dtype", "int8", "--no-quality", *ort_attention], " ort-attention"),
                                          ("int8", ["--dtype", "int8", "--no-quality", "--onnx-int8", "fast"], " fast"),
                                          ("int8", ["--dtype", "int8", "--no-quality", "--onnx-int8", "per-token"], " per-token")):
                path = os.path.join(work, f"{name}-{precision}{form.replace(' ', '-')}.onnx")
                run(binary, "convert", source, path, "--to", "onnx", *extra, *args)
                onnx.checker.check_model(onnx.load(path), full_check=True)
                size = os.path.getsize(path)
                if forward is None:
                    check_cocolm(path, source, precision, form)
                    continue
                plain = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
                compare(f"{label} {precision}{form} ({size} bytes)", plain, forward, config, precision)
                fused, types = optimized_types(path, work)
                print(f"      {label} {precision}{form}: optimized graph " + ", ".join(f"{k}×{v}" for k, v in sorted(types.items())))
                if precision == "int8" and form != " per-token":  # smooth (the default) and fast: every Linear fused
                    check(types.get("DynamicQuantizeMatMul", 0) > 0 and "MatMulInteger" not in types,
                          f"{label} int8{form}: ORT fuses every Linear (DynamicQuantizeMatMul, MatMulIntegerToFloat)")
                compare(f"{label} {precision}{form} fused", fused, forward, config, precision)
        except Exception as error:  # one failing sample does not hide the others
            check(False, f"{label}: {error}")
    print(f"{RESULTS['passed']} passed, {RESULTS['failed']} failed")
    sys.exit(1 if RESULTS["failed"] else 0)


def check_cocolm(path, source, precision, form=""):
    """COCO-LM has no transformers class: its committed golden (the reference implementation's outputs) is the bar."""
    from safetensors.numpy import load_file
    golden = load_file(os.path.join(source, "golden.safetensors"))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    ids = golden["input_ids"].astype(np.int64)
    mask = golden["attention_mask"].astype(np.int64) if "attention_mask" in golden else np.ones_like(ids)
    feed = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in [i.name for i in session.get_inputs()]:
        feed["token_type_ids"] = np.zeros_like(ids)
    value = session.run(["last_hidden_state"], feed)[0]
    ref = golden["last_hidden_state"]
    m = mask.astype(bool)
    value, ref = value.reshape(ref.shape)[m], ref[m]
    err, worst = float(np.abs(value - ref).max()), float(cosines(value, ref).min())
    ok = err <= 1e-4 if precision == "fp32" else worst >= (0.999 if precision == "fp16" else 0.99)
    check(ok, f"cocolm-tiny {precision}{form} golden: max |error| {err:.3g}, smallest cosine {worst:.6f}")


if __name__ == "__main__":
    main()
