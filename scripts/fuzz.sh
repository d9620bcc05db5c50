#!/usr/bin/env bash
# make fuzz: runs each libFuzzer target of Fuzz/ for FUZZ_SECONDS, seeded from Samples/ files of its format.
# Usage: scripts/fuzz.sh OUT SECONDS TARGET...   (the targets are built by `make fuzz` first; FUZZ_BIN picks another
# build folder of them)
# OUT/corpus/<target>/ keeps what each run found interesting (later runs resume from it); OUT/findings/<target>/
# receives crash-*, oom-*, timeout-* inputs (the run goes on after each, in libFuzzer's fork mode); OUT/logs/<target>.log has libFuzzer's output and final stats.
set -euo pipefail
out=$1; seconds=$2; shift 2
bin=${FUZZ_BIN:-Fuzz/.build/release}
samples=$PWD/Samples

pickles() {  # data.pkl of zip checkpoints, for the pickle machine and for fuzz-pytorch's own zip around its input
  mkdir -p "$out/pickle-seeds"
  for zip in Samples/pytorch/views.bin Samples/pytorch/wrapped-model.bin Samples/pytorch/albert-tiny-zip/pytorch_model.bin; do
    local seed=$out/pickle-seeds/$(echo "$zip" | tr / _).pkl
    python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); n = [e for e in z.namelist() if e.endswith("data.pkl")][0]; open(sys.argv[2], "wb").write(z.read(n))' "$zip" "$seed" \
      && echo "$seed"
  done
}

seeds() {  # the Samples/ files that seed one target (small files of its format, good and broken)
  case $1 in
    safetensors) ls Samples/safetensors/*.safetensors Samples/broken/safetensors/* Samples/cocolm-tiny/model.safetensors \
                    Samples/gguf/quantization-reference.safetensors Samples/paddle/jit-export.reference.safetensors ;;
    index)       ls Samples/bert-tiny-sharded/model.safetensors.index.json Samples/pytorch/bert-tiny-sharded/pytorch_model.bin.index.json ;;
    config)      find Samples -name '*.json' -size -40k ! -name 'inference.json' ! -name 'model.json' ! -name '*.index.json' ;;
    pickle)      ls Samples/pytorch/views-legacy.bin Samples/broken/pytorch/*.bin Samples/paddle/jit-export.p3.pdparams \
                    Samples/paddle/jit-export.split.pdparams Samples/broken/paddle/*.pdparams
                 pickles ;;
    pytorch)     ls Samples/pytorch/views.bin Samples/pytorch/views-legacy.bin Samples/pytorch/wrapped-model.bin \
                    Samples/pytorch/albert-tiny-zip/pytorch_model.bin Samples/pytorch/albert-tiny-legacy/pytorch_model.bin Samples/broken/pytorch/*.bin
                 pickles ;;
    pdparams)    find Samples/paddle Samples/broken/paddle -name '*.pdparams' -size -100k ;;
    lodtensor)   find Samples/paddle/hub-module-v1 Samples/paddle/hub-rbt-tiny Samples/broken/paddle -type f -name '*@*' -o -name '*.pdiparams' -o -name word_embedding ;;
    paddle-program) find Samples/paddle Samples/broken/paddle -name '*.pdmodel' -o -name __model__ -o -name inference.json -o -name model.json ;;
    tf-bundle)   find Samples/tensorflow Samples/broken/tensorflow -name '*.index' ;;
    gguf)        ls Samples/gguf/*.gguf Samples/broken/gguf/*.gguf ;;
    keras)       ls Samples/keras-flax/albert-tf/tf_model.h5 Samples/keras-flax/hostile/*.h5 Samples/keras-flax/keras3/model.weights.h5 \
                    Samples/broken/hostile/keras/*.h5 Samples/broken/fuzz/keras/*.h5 Samples/broken/fuzz/keras/libhdf5/*.h5 ;;
    flax)        ls Samples/keras-flax/albert-flax/flax_model.msgpack Samples/keras-flax/bert-flax-sharded/*.msgpack Samples/keras-flax/hostile/*.msgpack ;;
    onnx)        # graphs ModelPort itself writes (fp32 and int8), made once with the release CLI
                 mkdir -p "$out/seeds-onnx"
                 for kind in f32 int8; do
                   [ -f "$out/seeds-onnx/bert-tiny-$kind.onnx" ] || swift run -c release --product modelport modelport convert \
                     Samples/bert-tiny "$out/seeds-onnx/bert-tiny-$kind.onnx" --dtype $kind --no-quality >/dev/null 2>&1 || true
                 done
                 ls "$out"/seeds-onnx/*.onnx ;;
    *) echo "unknown fuzz target $1" >&2; exit 1 ;;
  esac
}

dictionary() {  # the libFuzzer dictionary of tokens for one target's format
  case $1 in
    safetensors|index|config|paddle-program) echo Fuzz/dictionaries/json.dict ;;
    pickle|pytorch|pdparams) echo Fuzz/dictionaries/pickle.dict ;;
    gguf) echo Fuzz/dictionaries/gguf.dict ;;
    tf-bundle|lodtensor) echo Fuzz/dictionaries/protobuf.dict ;;
    keras) echo Fuzz/dictionaries/hdf5.dict ;;
    flax) echo Fuzz/dictionaries/msgpack.dict ;;
  esac
}

mkdir -p "$out/logs"
for target in "$@"; do
  corpus=$out/corpus/$target; findings=$out/findings/$target
  mkdir -p "$corpus" "$findings"
  seeds "$target" | while read -r f; do [ -f "$f" ] && cp "$f" "$corpus/seed-$(echo "$f" | tr / _)"; done
  echo "== fuzz-$target: ${seconds}s, corpus $corpus, findings $findings"
  set +e
  SWIFT_BACKTRACE=enable=no ASAN_OPTIONS=detect_leaks=0 MODELPORT_SAMPLES=$samples "$bin/fuzz-$target" "$corpus" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -malloc_limit_mb=2048 -artifact_prefix="$findings/" -dict="$(dictionary "$target")" -detect_leaks=0 \
    -fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1 >"$out/logs/$target.log" 2>&1
  status=$?
  set -e
  # fork mode's progress lines: "#<executions>: cov: … corp: … exec/s: … oom/timeout/crash: a/b/c time: <seconds>s"
  echo "   $(grep -E '^#[0-9]+: cov' "$out/logs/$target.log" | tail -1)"
  [ $status -eq 0 ] || echo "   fuzz-$target stopped with status $status: see $out/logs/$target.log and $findings/"
done
ls "$out"/findings/*/ 2>/dev/null | grep -E 'crash|oom|timeout|leak|slow' && echo "findings above: minimise with -minimize_crash=1" || echo "no findings"
