#!/usr/bin/env python3
"""Does llama.cpp load and run the GGUF files ModelPort writes? (run once by hand; needs llama-cpp-python,
torch and transformers)

  check_llama.py MODELPORT_BINARY

Converts Samples/bert-tiny to GGUF F32, F16, Q8_0, Q5_1 and Q4_0 (and a 256-wide BERT to Q6_K, Q5_K, Q4_K), loads
each with llama.cpp (through llama-cpp-python), and compares the mean-pooled embedding of a few sentences with
PyTorch's BertModel on the same token ids.
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


if __name__ == "__main__":
    main()
