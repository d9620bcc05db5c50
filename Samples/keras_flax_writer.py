#!/usr/bin/env python3
"""Writes transformers 4.x TF (Keras HDF5) and Flax (msgpack) checkpoints from a PyTorch-format folder.

Run by Samples/generate.py (group `keras_flax`) in venvs that still have transformers' TF and Flax classes, which
transformers 5 removed (TensorFlow and JAX in separate processes):

    python3 -m venv .venv-tf4   && .venv-tf4/bin/pip install transformers==4.46.3 tensorflow-cpu==2.17.1 tf-keras==2.17.0 safetensors
    python3 -m venv .venv-flax4 && .venv-flax4/bin/pip install transformers==4.46.3 flax==0.8.5 "jax[cpu]==0.4.30" safetensors

Modes:
  tf CLASS SRC OUT                  TF<CLASS>.from_pretrained(SRC) (its model.safetensors), save_pretrained(OUT)
  flax CLASS SRC OUT [SHARD_SIZE]   Flax<CLASS>.from_pretrained(SRC), save_pretrained(OUT, max_shard_size=SHARD_SIZE)
  flax-chunked CLASS SRC OUT BYTES  as flax, with flax.serialization.MAX_CHUNK_SIZE set to BYTES (arrays over it are
                                    written as flax's chunked-array maps, as arrays over 1 GiB are)
  keras3 OUT                        a tiny Keras 3 model: OUT/model.weights.h5 and OUT/model.keras
  hostile-h5 OUT                    HDF5 files that break one ModelPort rule each (h5py)
  hostile-msgpack SRC OUT           Flax checkpoints that break one rule each, from the real file SRC (msgpack)
"""
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def without_source_path(out):
    """config.json names the (temporary) folder the model came from: left out, so files regenerate byte for byte."""
    import json
    p = os.path.join(out, "config.json")
    config = json.load(open(p))
    config.pop("_name_or_path", None)
    with open(p, "w") as f:
        f.write(json.dumps(config, indent=2, sort_keys=True) + "\n")


def tf_checkpoint(cls_name, src, out):
    import transformers
    cls = getattr(transformers, "TF" + cls_name)
    model = cls.from_pretrained(src)
    model.save_pretrained(out)
    without_source_path(out)


def flax_checkpoint(cls_name, src, out, shard=None):
    import transformers
    cls = getattr(transformers, "Flax" + cls_name)
    model = cls.from_pretrained(src, from_pt=True)
    if shard:
        model.save_pretrained(out, max_shard_size=shard)
    else:
        model.save_pretrained(out)
    without_source_path(out)


def flax_chunked(cls_name, src, out, chunk_bytes):
    import flax.serialization
    flax.serialization.MAX_CHUNK_SIZE = int(chunk_bytes)
    flax_checkpoint(cls_name, src, out)


def keras3(out):
    import keras
    import numpy as np
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="dense"), keras.layers.LayerNormalization(name="norm")])
    model.save_weights(os.path.join(out, "model.weights.h5"))
    model.save(os.path.join(out, "model.keras"))
    # Keras stamps the archive's entries and metadata.json's date_saved with the time of saving: rewritten with a
    # fixed one (reproducible files).
    import json
    import zipfile
    archive = os.path.join(out, "model.keras")
    with zipfile.ZipFile(archive) as z:
        entries = [(info.filename, z.read(info.filename)) for info in z.infolist()]
    for i, (name, data) in enumerate(entries):
        if name == "metadata.json":
            metadata = json.loads(data)
            metadata["date_saved"] = "1980-01-01@00:00:00"
            entries[i] = (name, json.dumps(metadata).encode())
        if name == "config.json":  # shared_object_id is a Python id(): numbered in order of appearance instead
            import re
            ids = {}
            text = re.sub(rb'"shared_object_id": (\d+)', lambda m: b'"shared_object_id": %d' % ids.setdefault(m.group(1), len(ids)), data)
            entries[i] = (name, text)
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries:
            z.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), data, compress_type=zipfile.ZIP_DEFLATED)
    assert np.asarray(model.get_weights()[0]).shape == (4, 3)


def hostile_h5(out):
    """Each file is a valid HDF5 file (h5py writes it) with Keras' layer_names / weight_names attributes, and one
    thing ModelPort refuses."""
    import h5py
    import numpy as np

    def keras_file(name, build):
        p = os.path.join(out, name)
        with h5py.File(p, "w", track_order=True) as f:
            f.attrs["backend"] = b"tensorflow"
            f.attrs["keras_version"] = b"2.17.0"
            build(f)
        return p

    def layer(f, layer_name, weights):
        f.attrs["layer_names"] = np.array([layer_name.encode()])
        g = f.create_group(layer_name)
        g.attrs["weight_names"] = np.array([w.encode() for w in weights])
        return g

    w = np.arange(6, dtype=np.float32).reshape(2, 3)
    # An external link to another file: following it would read outside the input.
    def external_link(f):
        g = layer(f, "dense", ["model/dense/kernel:0"])
        g["model"] = h5py.ExternalLink("/etc/passwd", "/")
    keras_file("external-link.h5", external_link)

    # A soft link inside the file (could loop or alias).
    def soft_link(f):
        g = layer(f, "dense", ["model/dense/kernel:0"])
        f.create_dataset("real/kernel:0", data=w)
        g["model"] = h5py.SoftLink("/real")
    keras_file("soft-link.h5", soft_link)

    # A dataset whose data lives in an external raw file.
    def external_storage(f):
        g = layer(f, "dense", ["model/dense/kernel:0"])
        g.create_dataset("model/dense/kernel:0", shape=(2, 3), dtype="f4", external=[("/etc/hostname", 0, 24)])
    keras_file("external-storage.h5", external_storage)

    # A virtual dataset mapping another file's dataset (its creation time left out, so the file regenerates
    # byte for byte: h5py's VirtualLayout makes its own creation property list).
    def virtual(f):
        g = layer(f, "dense", ["model/dense/kernel:0"])
        source = h5py.VirtualSource("other.h5", "data", shape=(2, 3), dtype="f4")
        vlayout = h5py.VirtualLayout(shape=(2, 3), dtype="f4")
        vlayout[:] = source
        vlayout.dcpl.set_obj_track_times(False)
        g.create_virtual_dataset("model/dense/kernel:0", vlayout)
    keras_file("virtual-dataset.h5", virtual)

    # weight_names naming a dataset that is not there.
    def missing(f):
        layer(f, "dense", ["model/dense/kernel:0"])
    keras_file("missing-dataset.h5", missing)

    # A string dataset where a weight should be.
    def strings(f):
        g = layer(f, "dense", ["model/dense/kernel:0"])
        g.create_dataset("model/dense/kernel:0", data=np.array([b"ab", b"cd"]))
    keras_file("string-weight.h5", strings)

    # A gzip-compressed, chunked dataset (legal: read through the library) and its truncation.
    def compressed(f):
        g = layer(f, "dense", ["model/dense/kernel:0"])
        g.create_dataset("model/dense/kernel:0", data=w, chunks=(1, 3), compression="gzip")
    p = keras_file("compressed.h5", compressed)
    data = open(p, "rb").read()
    open(os.path.join(out, "truncated.h5"), "wb").write(data[: len(data) // 2])


def hostile_msgpack(src, out):
    """Variants of a real flax_model.msgpack: each breaks one rule of the reader."""
    import msgpack
    data = open(src, "rb").read()

    def write(name, blob):
        open(os.path.join(out, name), "wb").write(blob)

    write("truncated.msgpack", data[: len(data) * 2 // 3])
    deep = b"\x81\xa1a" * 200 + b"\xc0"
    write("deep-nesting.msgpack", deep)
    write("huge-map.msgpack", b"\xdf\xff\xff\xff\xff" + b"\xa1a\xc0" * 4)
    write("huge-array.msgpack", b"\x81\xa1a\xdd\x7f\xff\xff\xff\xc0")
    # An array whose bytes are fewer than its shape needs, and one whose bin length runs past the end.
    pack = lambda shape, dtype, raw: msgpack.ExtType(1, msgpack.packb((shape, dtype, raw), use_bin_type=True))
    write("short-array.msgpack", msgpack.packb({"w": {"kernel": pack((4, 4), "float32", b"\0" * 60)}}, use_bin_type=True))
    write("unknown-dtype.msgpack", msgpack.packb({"w": {"kernel": pack((2,), "complex64", b"\0" * 16)}}, use_bin_type=True))
    lying = bytearray(msgpack.packb({"w": {"bias": pack((2,), "float32", b"\0" * 8)}}, use_bin_type=True))
    i = lying.rfind(b"\xc4\x08")
    lying[i + 1] = 0xFF  # bin 8 of 255 bytes, 8 present
    write("lying-bin-length.msgpack", bytes(lying))
    write("overflowing-shape.msgpack", msgpack.packb({"w": {"bias": pack((2**62, 2**62), "float32", b"")}}, use_bin_type=True))


if __name__ == "__main__":
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "tf":
        tf_checkpoint(*args)
    elif mode == "flax":
        flax_checkpoint(*args)
    elif mode == "flax-chunked":
        flax_chunked(*args)
    elif mode == "keras3":
        keras3(*args)
    elif mode == "hostile-h5":
        hostile_h5(*args)
    elif mode == "hostile-msgpack":
        hostile_msgpack(*args)
    else:
        sys.exit(f"unknown mode {mode}")
