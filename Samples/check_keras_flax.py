#!/usr/bin/env python3
"""Checks by hand that transformers 5 loads what ModelPort makes of tf_model.h5 / flax_model.msgpack.

    /work/main/.venv-samples/bin/python Samples/check_keras_flax.py .build/debug/modelport

Converts every Samples/keras-flax/*-tf and *-flax folder to a Hugging Face folder, loads it with the class its
config.json names (transformers 5, which no longer has TF or Flax classes) and prints, per folder: missing and
unexpected keys (both must be empty), and whether every loaded weight equals the PyTorch reference it was made from.
"""
import os
import subprocess
import sys
import tempfile

import torch
import transformers
from safetensors.torch import load_file

HERE = os.path.dirname(os.path.abspath(__file__))


def main(binary):
    root = os.path.join(HERE, "keras-flax")
    failures = 0
    for name in sorted(os.listdir(root)):
        if not (name.endswith("-tf") or "-flax" in name):
            continue
        reference = name.split("-flax")[0].rsplit("-tf", 1)[0]
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "hf")
            subprocess.run([binary, "convert", os.path.join(root, name), out, "--no-quality"], check=True, stdout=subprocess.DEVNULL)
            config = transformers.AutoConfig.from_pretrained(out)
            cls = getattr(transformers, config.architectures[0])
            model, info = cls.from_pretrained(out, output_loading_info=True)
            expected = load_file(os.path.join(root, "reference", reference + ".safetensors"))
            state = model.state_dict()
            equal = all(torch.equal(state[k], v) for k, v in expected.items())
            ok = not info["missing_keys"] and not info["unexpected_keys"] and equal
            failures += not ok
            print(f"{name:22} {cls.__name__:30} missing={info['missing_keys']} unexpected={info['unexpected_keys']} "
                  f"equal_to_reference={equal} {'OK' if ok else 'FAIL'}")
    print(f"transformers {transformers.__version__}, torch {torch.__version__}: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/modelport"))
