#!/usr/bin/env bash
# Regenerates the Swift code for the .proto files in this folder. Run once after editing a schema and commit
# the result; CI never runs this (building the protoc plugin takes about ten minutes).
#
# Needs: protoc (Debian: protobuf-compiler) and protoc-gen-swift built from the swift-protobuf version that
# Package.swift depends on, e.g.
#   git clone https://github.com/apple/swift-protobuf && cd swift-protobuf && git checkout 1.39.0
#   swift build -c release --product protoc-gen-swift
# then: PROTOC_GEN_SWIFT=/path/to/.build/release/protoc-gen-swift Schemas/generate.sh
set -euo pipefail
cd "$(dirname "$0")"
plugin=${PROTOC_GEN_SWIFT:-$(command -v protoc-gen-swift)}
out=../Sources/TensorFlowFormat/Generated
mkdir -p "$out"
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal --swift_out="$out" \
  versions.proto types.proto tensor_shape.proto tensor_slice.proto tensor_bundle.proto trackable_object_graph.proto
out_paddle=../Sources/PaddleFormat/Generated
mkdir -p "$out_paddle"
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal --swift_out="$out_paddle" paddle_framework.proto
out_tokenizers=../Sources/Tokenizers/Generated
mkdir -p "$out_tokenizers"
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal --swift_out="$out_tokenizers" sentencepiece_model.proto
out_onnx=../Sources/ONNXFormat/Generated
mkdir -p "$out_onnx"
# onnx.proto is the ONNX project's own proto2 file (onnx/onnx.proto as the onnx 1.23.2 wheel ships it), unchanged.
protoc --plugin=protoc-gen-swift="$plugin" --swift_opt=Visibility=Internal --swift_out="$out_onnx" onnx.proto
echo "generated into $out, $out_paddle, $out_tokenizers and $out_onnx"
