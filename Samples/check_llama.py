#!/usr/bin/env python3
"""Does llama.cpp load and run the GGUF files ModelPort writes? (run once by hand; needs llama-cpp-python,
torch and transformers)

  check_llama.py MODELPORT_BINARY

Converts Samples/bert-tiny to GGUF F32, F16, Q8_0, Q5_1 and Q4_0 (and a 256-wide BERT to Q6_K, Q5_K, Q4_K), loads
each with llama.cpp (through llama-cpp-python), and compares the mean-pooled embedding of a few sentences with
PyTorch's BertModel on the same token ids. Then the fine-tuned heads (Samples/heads): the one-label reranker and the
three-label run_classifier checkpoint as GGUF with rank pooling, whose scores must equal transformers' logits; and the
sentence-transformers folder, whose GGUF states its mean pooling.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
from llama_cpp import Llama, LLAMA_POOLING_TYPE_MEAN
from transformers import BertModel, BertTokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
TEXTS = ["the model is fast and safe", "keep the first three layers", "我们的模型是安全的"]


def main():
    binary = sys.argv[1]
    work = tempfile.mkdtemp(prefix="modelport-llama-")
    reference = BertModel.from_pretrained(os.path.join(HERE, "bert-tiny")).eval()
    tokenizer = BertTokenizer(os.path.join(HERE, "bert-tiny", "vocab.txt"))
    for dtype, bar in [("f32", 0.999), ("f16", 0.999), ("q8_0", 0.99), ("q5_1", 0.98), ("q4_0", 0.95)]:
        out = os.path.join(work, f"bert-{dtype}.gguf")
        subprocess.run([binary, "convert", os.path.join(HERE, "bert-tiny"), out, "--dtype", dtype], check=True, stdout=subprocess.DEVNULL)
        llm = Llama(model_path=out, embedding=True, pooling_type=LLAMA_POOLING_TYPE_MEAN, verbose=False, n_ctx=64, n_batch=64)
        worst = 1.0
        for text in TEXTS:
            ids = llm.tokenize(text.encode("utf-8"))
            assert ids == tokenizer(text)["input_ids"], (text, ids)  # llama.cpp's WPM reads our vocabulary as BERT does
            ours = np.array(llm.embed(text, normalize=False), dtype=np.float64).reshape(-1)
            with torch.no_grad():
                hidden = reference(input_ids=torch.tensor([ids])).last_hidden_state[0].double().numpy()
            theirs = hidden.mean(axis=0)
            cosine = float(ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs)))
            worst = min(worst, cosine)
        status = "ok" if worst >= bar else "FAIL"
        print(f"llama.cpp runs bert-tiny {dtype} (token ids equal to BertTokenizer's): min cosine vs PyTorch {worst:.6f} over {len(TEXTS)} sentences (≥ {bar}) {status}")
        assert worst >= bar

    # K-quants need rows of 256: a 256-wide BERT (transformers' initialisation, bert-tiny's vocabulary).
    from transformers import BertConfig
    torch.manual_seed(0)
    wide = BertModel(BertConfig(vocab_size=84, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                                num_attention_heads=4, max_position_embeddings=64)).eval()
    folder = os.path.join(work, "wide")
    wide.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    for dtype, bar in [("q6_k", 0.999), ("q5_k", 0.998), ("q4_k", 0.995)]:
        out = os.path.join(work, f"wide-{dtype}.gguf")
        subprocess.run([binary, "convert", folder, out, "--dtype", dtype, "--no-quality"], check=True, stdout=subprocess.DEVNULL)
        llm = Llama(model_path=out, embedding=True, pooling_type=LLAMA_POOLING_TYPE_MEAN, verbose=False, n_ctx=64, n_batch=64)
        worst = 1.0
        for text in TEXTS:
            ids = llm.tokenize(text.encode("utf-8"))
            ours = np.array(llm.embed(text, normalize=False), dtype=np.float64).reshape(-1)
            with torch.no_grad():
                theirs = wide(input_ids=torch.tensor([ids])).last_hidden_state[0].double().numpy().mean(axis=0)
            worst = min(worst, float(ours @ theirs / (np.linalg.norm(ours) * np.linalg.norm(theirs))))
        status = "ok" if worst >= bar else "FAIL"
        print(f"llama.cpp runs a 256-wide BERT {dtype}: min cosine vs PyTorch {worst:.6f} over {len(TEXTS)} sentences (≥ {bar}) {status}")
        assert worst >= bar


    check_heads(binary, work)


def rank_scores(llm, ids, outputs):
    """llama.cpp's rank-pooled scores of one token sequence (what Llama.embed does, on token ids)."""
    import llama_cpp
    llm._batch.reset()
    llm._batch.add_sequence(ids, 0, False)
    llm._ctx.kv_cache_clear()
    llm._ctx.decode(llm._batch)
    pointer = llama_cpp.llama_get_embeddings_seq(llm._ctx.ctx, 0)
    return np.array([pointer[i] for i in range(outputs)], dtype=np.float64)


def check_heads(binary, work):
    from llama_cpp import LLAMA_POOLING_TYPE_RANK
    from transformers import BertForSequenceClassification
    pairs = [("the model is fast and safe", "we keep the first three layers"), ("我们的模型", "这个模型很快"),
             ("convert the weights", "check the tensor"), ("a small phone", "the board is safe")]
    tokenizer = BertTokenizer(os.path.join(HERE, "vocab-tiny.txt"))
    for sample, extra in [("bert-reranker", []), ("bert-classifier-tf1", ["--labels", "negative,neutral,positive"])]:
        folder = os.path.join(work, sample + "-hf")
        subprocess.run([binary, "convert", os.path.join(HERE, "heads", sample), folder, *extra], check=True, stdout=subprocess.DEVNULL)
        reference = BertForSequenceClassification.from_pretrained(folder).eval()
        outputs = reference.config.num_labels
        for dtype, bar in [("f32", 1e-4), ("f16", 2e-2), ("q8_0", 5e-2)]:
            gguf = os.path.join(work, f"{sample}-{dtype}.gguf")
            subprocess.run([binary, "convert", os.path.join(HERE, "heads", sample), gguf, "--dtype", dtype, "--no-quality", *extra],
                           check=True, stdout=subprocess.DEVNULL)
            llm = Llama(model_path=gguf, embedding=True, pooling_type=LLAMA_POOLING_TYPE_RANK, verbose=False, n_ctx=64, n_batch=64)
            assert llm.n_embd() == reference.config.hidden_size
            worst = 0.0
            agree = 0
            for a, b in pairs:
                ids = tokenizer(a, b)["input_ids"]
                ours = rank_scores(llm, ids, outputs)
                with torch.no_grad():  # llama.cpp gives every token type 0: so does the reference here
                    theirs = reference(input_ids=torch.tensor([ids]), token_type_ids=torch.zeros(1, len(ids), dtype=torch.long)).logits[0].double().numpy()
                worst = max(worst, float(np.abs(ours - theirs).max()))
                agree += int(np.argmax(ours) == np.argmax(theirs))
            status = "ok" if worst <= bar else "FAIL"
            print(f"llama.cpp ranks {sample} {dtype} ({outputs} output{'s' if outputs > 1 else ''}): max |score − transformers logit| "
                  f"{worst:.2e} over {len(pairs)} pairs (≤ {bar}), argmax agrees {agree}/{len(pairs)} {status}")
            assert worst <= bar

    # Heads llama.cpp's BERT graph does not run are left out: the encoder still loads and embeds.
    for sample, extra in [("heads/bert-squad-tf1", []), ("heads/bert-classifier-tf1", ["--task", "token-classification"]),
                          ("tensorflow/bert-tiny-tf1", [])]:
        gguf = os.path.join(work, sample.replace("/", "-") + ".gguf")
        subprocess.run([binary, "convert", os.path.join(HERE, sample), gguf, *extra], check=True, stdout=subprocess.DEVNULL)
        llm = Llama(model_path=gguf, embedding=True, pooling_type=LLAMA_POOLING_TYPE_MEAN, verbose=False, n_ctx=64, n_batch=64)
        vector = llm.embed("the model is fast", normalize=False)
        print(f"llama.cpp loads {sample} {' '.join(extra)} (head left out): embedding of width {len(vector)} ok")

    # sentence-transformers: mean pooling stated in the GGUF; llama.cpp's pooled vector equals the Pooling module's output.
    from sentence_transformers import SentenceTransformer
    st = SentenceTransformer(os.path.join(HERE, "heads", "sbert-tiny"), device="cpu")
    gguf = os.path.join(work, "sbert.gguf")
    subprocess.run([binary, "convert", os.path.join(HERE, "heads", "sbert-tiny"), gguf], check=True, stdout=subprocess.DEVNULL)
    llm = Llama(model_path=gguf, embedding=True, verbose=False, n_ctx=64, n_batch=64)  # pooling type from the file
    worst = 1.0
    for text in TEXTS:
        ours = np.array(llm.embed(text, normalize=False), dtype=np.float64).reshape(-1)
        features = st.tokenize([text])
        with torch.no_grad():
            pooled = st[1](st[0](dict(features)))["sentence_embedding"][0].double().numpy()
        worst = min(worst, float(ours @ pooled / (np.linalg.norm(ours) * np.linalg.norm(pooled))))
    status = "ok" if worst >= 0.9999 else "FAIL"
    print(f"llama.cpp pools sbert-tiny as its GGUF says (mean): min cosine vs sentence-transformers' Pooling output {worst:.6f} {status}")
    assert worst >= 0.9999


if __name__ == "__main__":
    main()
