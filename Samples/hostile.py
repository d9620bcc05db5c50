#!/usr/bin/env python3
"""Small hostile files, one per class of attack that ModelPort must survive (one clear error or correct output,
in seconds and bounded memory). Written with the standard library only: the files lie about themselves in ways no
framework would write, so they are built from the formats' own byte layouts; where a framework's layout matters
(torch.save zips, paddle.save pickles) the same structure is pickled here with stub globals of the same names.

Run as `python Samples/hostile.py` (or the `hostile_inputs` group of generate.py); writes Samples/broken/hostile/.
Each file's name says the attack; Tests/ModelPortTests/HostileInputTests.swift runs every one through inspect,
convert and verify.
"""
import io
import json
import os
import pickle
import shutil
import struct
import sys
import types
import zipfile
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "broken", "hostile")


def out(*parts):
    p = os.path.join(OUT, *parts)
    os.makedirs(os.path.dirname(p), exist_ok=True)
    return p


# ------------------------------------------------------------------------------------------------------------
# Stub globals: pickle records `module.name` of a callable; these stand-ins have the names torch and numpy use.
# ------------------------------------------------------------------------------------------------------------

def stub(module, name):
    parts = module.split(".")
    for i in range(1, len(parts) + 1):
        qualified = ".".join(parts[:i])
        if qualified not in sys.modules:
            sys.modules[qualified] = types.ModuleType(qualified)
            if i > 1:
                setattr(sys.modules[".".join(parts[:i - 1])], parts[i - 1], sys.modules[qualified])
    mod = sys.modules[module]
    f = getattr(mod, name, None)
    if f is None:
        f = type(name, (), {})
        f.__module__ = module
        f.__qualname__ = name
        setattr(mod, name, f)
    return f


class Call:
    """Pickles as `callee(*args)`, with an optional BUILD state."""

    def __init__(self, callee, args, state=None):
        self.callee, self.args, self.state = callee, args, state

    def __reduce__(self):
        if self.state is None:
            return (self.callee, self.args)
        return (self.callee, self.args, self.state)


class StorageRef:
    def __init__(self, key, numel, kind="FloatStorage"):
        self.key, self.numel, self.kind = key, numel, kind


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, StorageRef):
            return ("storage", stub("torch", obj.kind), obj.key, "cpu", obj.numel)
        return None


def ordered_dict():
    import collections
    return collections.OrderedDict()


def tensor(storage, offset, size, stride):
    rebuild = stub("torch._utils", "_rebuild_tensor_v2")
    return Call(rebuild, (storage, offset, tuple(size), tuple(stride), False, ordered_dict()))


def entry(name, compress=zipfile.ZIP_STORED):
    """A zip entry with a fixed timestamp, so the files regenerate byte for byte."""
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = compress
    return info


def torch_zip(name, state, records, compress=zipfile.ZIP_STORED):
    buf = io.BytesIO()
    TorchPickler(buf, protocol=2).dump(state)
    with zipfile.ZipFile(out("pytorch", name + ".bin"), "w", compression=compress) as z:
        z.writestr(entry("archive/data.pkl", compress), buf.getvalue())
        z.writestr(entry("archive/version"), "3\n")
        for key, data in records.items():
            z.writestr(entry("archive/data/" + key, compress), data)


def pytorch_files():
    four = struct.pack("<4f", 1, 2, 3, 4)
    s = StorageRef("0", 4)
    # Offsets and views that break the arithmetic.
    torch_zip("offset-near-2^63", {"w": tensor(s, 2**63 - 2, [4], [1])}, {"0": four})
    torch_zip("empty-view-past-file", {"w": tensor(s, 2**40, [0], [1])}, {"0": four})
    torch_zip("empty-view-huge-dims", {"w": tensor(s, 0, [2**62, 0], [1, 1])}, {"0": four})
    torch_zip("stride-overflow", {"w": tensor(s, 0, [2, 2], [2**62, 2**62])}, {"0": four})
    # One element viewed as [N, N] with stride 0: gigabytes out of a few hundred bytes.
    one = StorageRef("0", 1)
    torch_zip("stride-zero-amplification", {"w": tensor(one, 0, [20000, 20000], [0, 0])}, {"0": struct.pack("<f", 1)})
    # Many tensors tied to one storage (each a full view): output grows with tensors × storage size.
    big = StorageRef("0", 4096)
    shared = tensor(big, 0, [4096], [1])  # one record, recalled from the memo 100k times
    torch_zip("tied-100k", {f"t{i}": shared for i in range(100_000)}, {"0": bytes(4096 * 4)}, compress=zipfile.ZIP_DEFLATED)
    # Thousands of small views of one deflated storage: inflating it once per view is quadratic.
    torch_zip("views-of-deflated-storage", {f"t{i}": tensor(StorageRef("0", 1 << 20), i * 256, [256], [1]) for i in range(4096)},
              {"0": bytes(4 << 20)}, compress=zipfile.ZIP_DEFLATED)
    # A stored record whose CRC fields are zero while its data is not.
    path = out("pytorch", "crc-zero.bin")
    torch_zip("crc-zero", {"w": tensor(s, 0, [4], [1])}, {"0": four})
    patch_zip_crc(path, "archive/data/0", 0)


def patch_zip_crc(path, name, crc):
    data = bytearray(open(path, "rb").read())
    encoded = name.encode()
    # (signature, offset of the name length, offset of the name, offset of the CRC): local header, central entry.
    for signature, length_at, name_at, crc_at in [(b"PK\x03\x04", 26, 30, 14), (b"PK\x01\x02", 28, 46, 16)]:
        at = data.find(signature)
        while at >= 0:
            n = struct.unpack_from("<H", data, at + length_at)[0]
            if data[at + name_at:at + name_at + n] == encoded:
                struct.pack_into("<I", data, at + crc_at, crc)
            at = data.find(signature, at + 4)
    open(path, "wb").write(bytes(data))


# ------------------------------------------------------------------------------------------------------------
# Pickle machine: amplification through shared structure and unbounded stacks.
# ------------------------------------------------------------------------------------------------------------

def raw_zip(name, pkl):
    with zipfile.ZipFile(out("pytorch", name + ".bin"), "w") as z:
        z.writestr(entry("archive/data.pkl", zipfile.ZIP_DEFLATED), pkl)
        z.writestr(entry("archive/version"), "3\n")


def pickle_files():
    # A memo DAG: d[k] = {"a": d[k-1], "b": d[k-1]}, 30 levels; walking it as a tree visits 2^30 dicts.
    p = bytearray(b"\x80\x02}q\x00")  # d0 = {} memo 0
    for k in range(1, 31):
        p += b"}" + b"(" + b"X\x01\x00\x00\x00a" + b"h" + bytes([k - 1]) + b"X\x01\x00\x00\x00b" + b"h" + bytes([k - 1]) + b"u"
        p += b"q" + bytes([k])
    p += b"."
    raw_zip("memo-dag", bytes(p))
    # builtins.set(L) then APPEND(L, set): each step copies the growing list.
    p = bytearray(b"\x80\x02]q\x00")  # L memo 0
    p += b"cbuiltins\nset\nq\x01"  # the global, memo 1
    p += b"0"  # pop it
    for _ in range(300):
        p += b"h\x01h\x00\x85R"  # set((L,)) — a list with L's items
        p += b"a"  # L.append(set)  … and L grows
        p += b"h\x01h\x00\x85R" + b"0"  # set(L) again, dropped
    p += b"."
    raw_zip("set-append-copies", bytes(p))
    # APPENDS of a list to itself through DUP and the memo: L.extend([L] * n) repeatedly.
    p = bytearray(b"\x80\x02]q\x00")
    for _ in range(200):
        p += b"(" + b"h\x00" * 4 + b"e"
    p += b"."
    raw_zip("self-referencing-list", bytes(p))
    # MARK flood: 4 MiB of MARK opcodes.
    raw_zip("mark-flood", b"\x80\x02" + b"(" * (4 << 20) + b"N.")
    # DUP flood past the stack limit.
    raw_zip("dup-flood", b"\x80\x02N" + b"2" * (2 << 20) + b".")


# ------------------------------------------------------------------------------------------------------------
# Paddle: split-array tables that chain into each other.
# ------------------------------------------------------------------------------------------------------------

def paddle_files():
    reconstruct = stub("numpy.core.multiarray", "_reconstruct")
    ndarray = stub("numpy", "ndarray")
    dtype = stub("numpy", "dtype")

    def array(shape, raw):
        return Call(reconstruct, (ndarray, (0,), b"b"), (1, tuple(shape), Call(dtype, ("f4", False, True), (3, "<", None, None, None, -1, -1, 0)), False, raw))

    import collections
    state = collections.OrderedDict()
    state["w@@.0"] = array([16], bytes(64))
    info = collections.OrderedDict()
    # a0 = w@@.0; a1 = a0 + a0; a2 = a1 + a1 …: each entry names the previous result twice.
    prev = "w@@.0"
    for k in range(40):
        name = f"a{k}"
        info[name] = {"OriginShape": [16 << (k + 1)], "slices": [prev, prev]}
        prev = name
    state["UnpackBigParamInfor@@"] = info
    with open(out("paddle", "chained-split-arrays.pdparams"), "wb") as f:
        pickle.dump(state, f, protocol=2)
    # One slice listed twice to fill a shape twice its size (reusing bytes instead of reading them).
    state = collections.OrderedDict()
    state["w@@.0"] = array([4], bytes(16))
    state["UnpackBigParamInfor@@"] = {"w": {"OriginShape": [8], "slices": ["w@@.0", "w@@.0"]}}
    with open(out("paddle", "repeated-slice.pdparams"), "wb") as f:
        pickle.dump(state, f, protocol=2)
    # A PIR program (Paddle 3.3's own, from Samples/paddle/inference-pir) whose parameter names are paths out of the
    # folder: in the per-variable layout each name is opened beside the program.
    pir = open(os.path.join(HERE, "paddle", "inference-pir", "inference.json"), encoding="utf-8").read()
    for label, name in [("pir-dotdot-name", "../../../../../../etc/passwd"), ("pir-absolute-name", "/etc/passwd")]:
        text = pir.replace('"encoder_layer_0_post_ffn_layer_norm_bias"', json.dumps(name))
        open(out("paddle", label, "inference.json"), "w", encoding="utf-8").write(text)


# ------------------------------------------------------------------------------------------------------------
# GGUF: a large metadata array, a token with a newline.
# ------------------------------------------------------------------------------------------------------------

def gguf_string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gguf_kv_string(key, value):
    return gguf_string(key) + struct.pack("<I", 8) + gguf_string(value)


def gguf_kv_u32(key, value):
    return gguf_string(key) + struct.pack("<I", 4) + struct.pack("<I", value)


def gguf_file(name, kvs, tensors=()):
    header = b"GGUF" + struct.pack("<I", 3) + struct.pack("<Q", len(tensors)) + struct.pack("<Q", len(kvs))
    body = b"".join(kvs)
    infos = b""
    offset = 0
    for tname, dims, data in tensors:
        infos += gguf_string(tname) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<I", 0) + struct.pack("<Q", offset)
        offset += (len(data) + 31) // 32 * 32
    blob = header + body + infos
    blob += b"\0" * ((-len(blob)) % 32)
    for _, _, data in tensors:
        blob += data + b"\0" * ((-len(data)) % 32)
    open(out("gguf", name + ".gguf"), "wb").write(blob)


def gguf_files():
    arr = gguf_string("general.big") + struct.pack("<I", 9) + struct.pack("<I", 0) + struct.pack("<Q", 2_000_000) + bytes(2_000_000)
    gguf_file("u8-array-2mb", [gguf_kv_string("general.architecture", "bert"), arr])
    tokens = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "line\nbreak", "carriage\rreturn", "ok"]
    toks = gguf_string("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<I", 8) + struct.pack("<Q", len(tokens))
    toks += b"".join(gguf_string(t) for t in tokens)
    emb = struct.pack("<%df" % (8 * 4), *([0.5] * 32))
    gguf_file("token-with-newline", [gguf_kv_string("general.architecture", "bert"), gguf_kv_string("tokenizer.ggml.model", "bert"), toks],
              [("token_embd.weight", [4, 8], emb)])


# ------------------------------------------------------------------------------------------------------------
# safetensors: zero-size tensors with huge dimensions; index files with many shard names.
# ------------------------------------------------------------------------------------------------------------

def safetensors_file(path, tensors):
    header = {}
    data = b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * ((-len(text)) % 8)
    open(path, "wb").write(struct.pack("<Q", len(text)) + text + data)


def safetensors_files():
    for label, shape in [("2^63-1x0", [2**63 - 1, 0]), ("0x2^62", [0, 2**62]), ("0x2^40x2^40", [0, 2**40, 2**40])]:
        d = out("safetensors", "empty-" + label, "x")
        d = os.path.dirname(d)
        safetensors_file(os.path.join(d, "model.safetensors"), [
            ("encoder.layer.0.attention.self.query.weight", "F32", shape, b""),
            ("embeddings.word_embeddings.weight", "F32", [4, 8], bytes(128)),
        ])
    # A sharded index naming 20k distinct shard files (all missing but one).
    d = os.path.join(OUT, "safetensors", "index-20k-shards")
    os.makedirs(d, exist_ok=True)
    safetensors_file(os.path.join(d, "model-00001.safetensors"), [("a", "F32", [1], bytes(4))])
    weight_map = {f"t{i}": f"model-{i:06d}.safetensors" for i in range(20_000)}
    weight_map["a"] = "model-00001.safetensors"
    json.dump({"metadata": {}, "weight_map": weight_map}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
    # An index whose shard names leave the folder.
    d = os.path.join(OUT, "safetensors", "index-escapes")
    os.makedirs(d, exist_ok=True)
    json.dump({"metadata": {}, "weight_map": {"a": "../../../../etc/passwd", "b": "/etc/passwd"}},
              open(os.path.join(d, "model.safetensors.index.json"), "w"))


# ------------------------------------------------------------------------------------------------------------
# Configs with values the verifier and the writers size buffers from.
# ------------------------------------------------------------------------------------------------------------

def config_files():
    base = json.load(open(os.path.join(HERE, "bert-tiny", "config.json")))
    weights = os.path.join(HERE, "bert-tiny", "model.safetensors")
    for label, changes in [
        ("type-vocab-negative", {"type_vocab_size": -1}),
        ("type-vocab-2^40", {"type_vocab_size": 2**40}),
        ("pad-negative", {"pad_token_id": -100, "model_type": "roberta", "architectures": ["RobertaModel"]}),
        ("pad-2^63", {"pad_token_id": 2**63 - 1, "model_type": "roberta", "architectures": ["RobertaModel"]}),
        ("layers-10^9", {"num_hidden_layers": 10**9}),
        ("heads-zero", {"num_attention_heads": 0}),
        ("hidden-negative", {"hidden_size": -32}),
        ("positions-2^62", {"max_position_embeddings": 2**62}),
    ]:
        d = os.path.join(OUT, "config", label)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        config = dict(base)
        config.update(changes)
        json.dump(config, open(os.path.join(d, "config.json"), "w"), indent=2)
        os.symlink(os.path.relpath(weights, d), os.path.join(d, "model.safetensors"))
    albert = os.path.join(HERE, "tensorflow", "albert-tiny-tf1")
    if os.path.isdir(albert):
        for label, changes in [("albert-inner-groups-negative", {"inner_group_num": -1}), ("albert-layers-10^9", {"num_hidden_layers": 10**9})]:
            d = os.path.join(OUT, "config", label)
            shutil.rmtree(d, ignore_errors=True)
            os.makedirs(d)
            for f in os.listdir(albert):
                src = os.path.join(albert, f)
                if f.endswith(".json"):
                    config = json.load(open(src))
                    config.update(changes)
                    json.dump(config, open(os.path.join(d, f), "w"), indent=2)
                else:
                    os.symlink(os.path.relpath(src, d), os.path.join(d, f))
    # A tokenizer.json whose WordPiece vocabulary holds a token with a newline.
    d = os.path.join(OUT, "config", "tokenizer-token-newline")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    json.dump(base, open(os.path.join(d, "config.json"), "w"), indent=2)
    os.symlink(os.path.relpath(weights, d), os.path.join(d, "model.safetensors"))
    vocab = [l.rstrip("\n") for l in open(os.path.join(HERE, "bert-tiny", "vocab.txt"), encoding="utf-8")]
    vocab[-1] = "bad\ntoken"
    json.dump({"model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                         "vocab": {t: i for i, t in enumerate(vocab)}}}, open(os.path.join(d, "tokenizer.json"), "w"))


def main():
    shutil.rmtree(OUT, ignore_errors=True)
    os.makedirs(OUT)
    pytorch_files()
    pickle_files()
    paddle_files()
    gguf_files()
    safetensors_files()
    config_files()
    total = sum(os.path.getsize(os.path.join(r, f)) for r, _, fs in os.walk(OUT) for f in fs
                if not os.path.islink(os.path.join(r, f)))
    print(f"hostile inputs written to {OUT} ({total / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
