# ModelPort: the two commands a new user runs are `make demo` and `make test`.
# Each target installs what it needs first (Debian packages via apt-get when missing).

SWIFT          ?= swift
SYSTEM_PACKAGES = zlib1g-dev libzip-dev libopenblas-dev pkg-config
RELEASE_BIN     = .build/release/modelport
DEMO_DIR        = .demo
PYTHON         ?= python3
SAMPLES_VENV    = .venv-samples

.PHONY: all deps build release demo test check-python bench samples clean

all: build

deps:
	@bash scripts/install-deps.sh $(SYSTEM_PACKAGES)

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product modelport

## make demo: build, convert the bundled Google-style TF checkpoint to a Hugging Face folder in f16 with 2 of
## its 4 layers, inspect the result, and print the parity report of both conversions against the source.
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

## make test: every test (Swift Testing, no Python needed).
test: deps
	$(SWIFT) test --disable-xctest

## make check-python: the safetensors package reads what ModelPort writes (optional; installs into a venv).
check-python: release
	@[ -x .venv-check/bin/python ] || $(PYTHON) -m venv .venv-check
	@.venv-check/bin/pip install -q safetensors numpy gguf
	.venv-check/bin/python Samples/check_outputs.py $(RELEASE_BIN)

## make bench: convert a ~100 MB safetensors model, next to cp of the same file.
bench: release
	$(PYTHON) Benchmarks/bench.py $(RELEASE_BIN)

## make samples: regenerate Samples/ with the pinned frameworks (needs PyPI).
samples:
	$(PYTHON) -m venv $(SAMPLES_VENV)
	$(SAMPLES_VENV)/bin/pip install -q -r Samples/requirements.txt
	$(SAMPLES_VENV)/bin/python Samples/generate.py

clean:
	rm -rf .build $(DEMO_DIR) .venv-check
