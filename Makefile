# ModelPort: the two commands a new user runs are `make demo` and `make test`.
# Each target installs what it needs first (Debian packages via apt-get when missing).

SWIFT          ?= swift
SYSTEM_PACKAGES = zlib1g-dev libzip-dev libopenblas-dev libhdf5-dev pkg-config
RELEASE_BIN     = .build/release/modelport
DEMO_DIR        = .demo
PYTHON         ?= python3
SAMPLES_VENV    = .venv-samples

.PHONY: all deps build release demo test check-python bench samples fuzz docs example clean

all: build

deps:
	@bash scripts/install-deps.sh $(SYSTEM_PACKAGES)

build: deps
	$(SWIFT) build --product modelport

## The release binary carries the Swift runtime on Linux (--static-swift-stdlib): it runs where Swift is not
## installed, and starts about 3 ms sooner (no symbol lookups in the runtime's shared libraries). Linked by the
## toolchain's lld where there is one: GNU ld warns about a mktemp call inside the static FoundationEssentials.
RELEASE_FLAGS  ?= $(if $(filter Linux,$(shell uname -s)),--static-swift-stdlib $(if $(shell command -v ld.lld),-Xswiftc -use-ld=lld))

release: deps
	$(SWIFT) build -c release --product modelport $(RELEASE_FLAGS)

## make demo: build, convert the bundled Google-style TF checkpoint to a Hugging Face folder in f16 with 2 of
## its 4 layers, inspect the result, print the parity report of both conversions against the source, and write
## an HTML report of the source against a lossless copy and two quantized GGUF files (.demo/report.html).
demo: release
	@rm -rf $(DEMO_DIR) && mkdir -p $(DEMO_DIR)
	@echo "== the bundled sample: a TF1 BERT checkpoint with Google names, Adam slots and global_step =="
	$(RELEASE_BIN) inspect Samples/tensorflow/bert-tiny-tf1 | head -12
	@echo
	@echo "== convert: TF → Hugging Face folder, cast to f16, keep the first 2 encoder layers =="
	$(RELEASE_BIN) convert Samples/tensorflow/bert-tiny-tf1 $(DEMO_DIR)/bert-tiny-f16-2layers --dtype f16 --keep-layers 2
	@echo
	@echo "== the result =="
	$(RELEASE_BIN) inspect $(DEMO_DIR)/bert-tiny-f16-2layers | head -24
	@echo
	@echo "== parity: the TF checkpoint against the f16, 2-layer result (forward passes on both) =="
	$(RELEASE_BIN) verify Samples/tensorflow/bert-tiny-tf1 $(DEMO_DIR)/bert-tiny-f16-2layers
	@echo
	@echo "== and a lossless conversion, TF → PyTorch folder (pytorch_model.bin + config.json), checked against the source =="
	$(RELEASE_BIN) convert Samples/tensorflow/bert-tiny-tf1 $(DEMO_DIR)/bert-tiny-pytorch --to pytorch
	$(RELEASE_BIN) verify Samples/tensorflow/bert-tiny-tf1 $(DEMO_DIR)/bert-tiny-pytorch
	@echo
	@echo "== a report to look at: the TF checkpoint against the PyTorch copy and Q8_0 / Q4_0 GGUF files, one HTML page =="
	$(RELEASE_BIN) convert Samples/tensorflow/bert-tiny-tf1 $(DEMO_DIR)/bert-tiny-q8_0.gguf --dtype q8_0
	$(RELEASE_BIN) convert Samples/tensorflow/bert-tiny-tf1 $(DEMO_DIR)/bert-tiny-q4_0.gguf --dtype q4_0
	$(RELEASE_BIN) verify Samples/tensorflow/bert-tiny-tf1 $(DEMO_DIR)/bert-tiny-pytorch $(DEMO_DIR)/bert-tiny-q8_0.gguf \
		$(DEMO_DIR)/bert-tiny-q4_0.gguf --text "we convert the model weights" --report $(DEMO_DIR)/report.html | tail -n 2
	@echo "the report: $(CURDIR)/$(DEMO_DIR)/report.html (open it in a browser)"

## make docs: the library's DocC documentation (the ModelPort module with the format, IR and verifier modules it
## re-exports) as a static site in .build/documentation; open .build/documentation/documentation/modelport/index.html
## through a local web server (python3 -m http.server -d .build/documentation).
DOC_TARGETS = ModelPort ModelIR GGUFFormat SafetensorsFormat PyTorchFormat PaddleFormat TensorFlowFormat KerasFormat FlaxFormat ONNXFormat Transforms Verifier Tokenizers
docs: deps
	$(SWIFT) package --disable-sandbox generate-documentation $(addprefix --target ,$(DOC_TARGETS)) \
		--enable-experimental-combined-documentation --transform-for-static-hosting --output-path .build/documentation
	@echo "documentation: $(CURDIR)/.build/documentation (serve it: python3 -m http.server -d .build/documentation)"

## make example: build Examples/ConvertAndVerify (a program that imports only ModelPort) and run it on the bundled
## TF checkpoint: convert to a Hugging Face folder, verify against the source, print the per-layer report.
example: deps
	@rm -rf .example && mkdir -p .example
	$(SWIFT) run --package-path Examples/ConvertAndVerify convert-and-verify Samples/tensorflow/bert-tiny-tf1 .example/bert-hf

## make test: every test (Swift Testing, no Python needed).
test: deps
	$(SWIFT) test --disable-xctest

## make check-python: the safetensors package reads what ModelPort writes, and the HTML reports render in a
## headless chromium (skipped with a message when chromium is missing: apt-get install -y chromium). Optional;
## installs into a venv.
check-python: release
	@[ -x .venv-check/bin/python ] || $(PYTHON) -m venv .venv-check
	@.venv-check/bin/pip install -q safetensors numpy gguf
	-@.venv-check/bin/pip install -q pillow  # only for the report screenshots; check_report.py says when it is missing
	.venv-check/bin/python Samples/check_outputs.py $(RELEASE_BIN)
	.venv-check/bin/python Samples/check_report.py $(RELEASE_BIN)
	@if .venv-check/bin/python -c "import onnxruntime, torch, transformers" 2>/dev/null; then \
		.venv-check/bin/python Samples/check_onnx.py $(RELEASE_BIN); \
	else echo "check_onnx.py skipped: pip install -r Samples/requirements-onnx.txt (with torch, transformers) to run it"; fi

## make bench: one table of ModelPort next to its references (cp + sync for conversions from every format,
## llama-quantize --pure for every GGUF type, with a same-bytes check) and peak RSS on a generated 1.3 GB
## BERT-large-shaped model against its largest tensor + 64 MB; then the forward pass next to PyTorch (BERT-base
## and MiniLM shapes, 8 × 128 tokens) with the BLAS library and kernel; prints the CPU. Needs about 14 GB of free disk.
bench: release
	$(PYTHON) Benchmarks/bench.py $(RELEASE_BIN) --no-forward
	$(PYTHON) Benchmarks/bench_forward.py $(RELEASE_BIN)
	@if $(PYTHON) -c "import onnxruntime, torch, transformers" 2>/dev/null; then \
		$(PYTHON) Benchmarks/bench_onnx.py $(RELEASE_BIN); \
	else echo "bench_onnx.py skipped: onnxruntime, torch and transformers are not importable"; fi

## make fuzz: builds the libFuzzer targets of Fuzz/ (one per reader, with ASan) and runs each for FUZZ_SECONDS,
## seeded from Samples/; findings (crash, OOM > 2 GB, timeout > 10 s) land in $(FUZZ_OUT)/findings/<target>/.
FUZZ_SECONDS ?= 600
FUZZ_OUT     ?= .fuzz
FUZZ_TARGETS ?= safetensors index config pickle pytorch pdparams lodtensor paddle-program tf-bundle gguf keras flax onnx
fuzz: deps
	$(SWIFT) build -c release --package-path Fuzz -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
	bash scripts/fuzz.sh $(FUZZ_OUT) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

## make samples: regenerate Samples/ with the pinned frameworks (needs PyPI).
samples:
	$(PYTHON) -m venv $(SAMPLES_VENV)
	$(SAMPLES_VENV)/bin/pip install -q -r Samples/requirements.txt
	$(SAMPLES_VENV)/bin/python Samples/generate.py

clean:
	rm -rf .build $(DEMO_DIR) .venv-check Fuzz/.build $(FUZZ_OUT)
