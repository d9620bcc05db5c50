#!/usr/bin/env python3
"""Random multi-script texts through transformers' tokenizers and `modelport tokenize --json`; prints how many
encodings are equal per kind (ids and token types) and the first differences.

    python Samples/check_tokenizers.py [--count 2000] [--seed 1] [--kinds bert-uncased,albert] [--modelport PATH]

Needs transformers (the samples venv). The Swift tests never run this; it is a wider net than the goldens."""
import argparse
import json
import os
import random
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))

POOLS = [
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "0123456789",
    ".,;:!?'\"()[]{}<>-_/\\@#$%^&*+=~`|",
    " " * 8 + "\t\n\r\u00a0\u2009\u3000\u2028\u200b\u200c\u200d\ufeff\u0085\u000b\u000c",
    "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会自着去之过家学对可她里后小么心多天而能好都然没日于起还发成事只作当想看文无开手十用主行方又如前所本见经头面公同三已老从动两长",
    "абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯїєґ",
    "ابتثجحخدذرزسشصضطظعغفقكلمنهويءآأإةى١٢٣",
    "אבגדהוזחטיכלמנסעפצקרשתךםןףץ",
    "\u0300\u0301\u0302\u0303\u0308\u030a\u0327\u05b4\u064e\u0651\u20dd\ufe0f\u200d",
    "éèêëàâäçñöüÅßİıǅﬁℌ½²",
    "ＡＢＣａｂｃ１２３！？（）ｶﾀﾅﾞ",
    "😀👍🏽👨‍👩‍👧🇫🇷❤️✋🏼🧑‍💻",
    "ก ข ค ง จ ฉ ช ซ ा ि ी ु क ख ग घ 가 나 다 라 あいうえおアイウエオ",
    "▁",
]
WORDS = ["[MASK]", "[CLS]", "[SEP]", "[PAD]", "[UNK]", "<mask>", "<s>", "</s>", "<pad>", "<unk>", "[mask]", "the", "model",
         "converts", "weights", "tokenizer", "1,000", "2,5", "``", "''", "don't", "'s", "'ll", "naïve", "巴黎", "Москва"]


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 30)):
        if rng.random() < 0.15:
            parts.append(rng.choice(WORDS))
        else:
            pool = rng.choice(POOLS)
            parts.append("".join(rng.choice(pool) for _ in range(rng.randint(1, 8))))
        if rng.random() < 0.4:
            parts.append(" ")
    if rng.random() < 0.02:
        parts.append("x" * rng.randint(95, 130))
    return "".join(parts)


def arg(name, value):
    """`--name value`, or `--name=value` when the value starts with '-' (it would read as an option)."""
    return [name + "=" + value] if value.startswith("-") else [name, value]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kinds", default="bert-uncased,bert-cased,albert,albert-json,roberta,perceiver")
    parser.add_argument("--modelport", default=os.path.join(HERE, "..", ".build", "debug", "modelport"))
    args = parser.parse_args()
    from transformers import AutoTokenizer, PerceiverTokenizer
    rng = random.Random(args.seed)
    texts = [random_text(rng) for _ in range(args.count)]
    pairs = [random_text(rng) for _ in range(args.count)]
    for kind in args.kinds.split(","):
        folder = os.path.join(HERE, "tokenizers", kind)
        tok = PerceiverTokenizer.from_pretrained(folder) if kind == "perceiver" else AutoTokenizer.from_pretrained(folder)
        equal, total, shown = 0, 0, 0
        for paired in (False, True):
            batch = 200
            for start in range(0, len(texts), batch):
                chunk = texts[start:start + batch]
                command = [args.modelport, "tokenize", folder, "--json"]
                for i, t in enumerate(chunk):
                    command += arg("--text", t) + (arg("--pair", pairs[start + i]) if paired else [])
                ours = json.loads(subprocess.run(command, capture_output=True, check=True, text=True).stdout)
                for i, t in enumerate(chunk):
                    if paired:
                        enc = tok(t, pairs[start + i], truncation=True)
                    else:
                        enc = tok(t, truncation=True)
                    types = enc.get("token_type_ids") or [0] * len(enc["input_ids"])
                    total += 1
                    if ours["input_ids"][i] == enc["input_ids"] and ours["token_type_ids"][i] == types:
                        equal += 1
                    elif shown < 3:
                        shown += 1
                        print(f"  {kind} differs on {t!r}" + (f" + {pairs[start + i]!r}" if paired else ""))
                        print("    transformers:", tok.convert_ids_to_tokens(enc["input_ids"]))
                        print("    modelport:   ", ours["tokens"][i])
        print(f"{kind}: {equal}/{total} encodings equal")


if __name__ == "__main__":
    main()
