import ModelIR

extension Model {
    /// The model with only the encoder layers in `layers`, renumbered 0, 1, … in the order given (RBT3 was
    /// initialised this way from the first three layers of RoBERTa-wwm-ext). Tensors of other layers are
    /// dropped and listed in `dropped`; `num_hidden_layers` is rewritten.
    ///
    /// Works on BERT-style names (`encoder.layer.{i}.`, with any prefix).
    public func selectingLayers(_ layers: [Int]) throws -> Model {
        let present = Set(tensors.compactMap { LayerName.index(in: $0.name) })
        guard !present.isEmpty else {
            throw ModelError("layer selection needs BERT-style 'encoder.layer.N.' tensor names; this model has none")
        }
        let count = (present.max() ?? -1) + 1
        guard !layers.isEmpty else { throw ModelError("layer selection must keep at least one layer") }
        guard Set(layers).count == layers.count else { throw ModelError("layer list \(layers) repeats a layer") }
        for layer in layers where !present.contains(layer) {
            throw ModelError("layer \(layer) does not exist; the model has layers 0...\(count - 1)")
        }
        let newIndex = Dictionary(uniqueKeysWithValues: layers.enumerated().map { ($0.element, $0.offset) })
        var result = self
        result.tensors = []
        for tensor in tensors {
            guard let layer = LayerName.index(in: tensor.name) else {
                result.tensors.append(tensor)
                continue
            }
            if let target = newIndex[layer] {
                var renamed = tensor
                renamed.name = LayerName.renumbered(tensor.name, to: target)
                result.tensors.append(renamed)
            } else {
                result.dropped.append(DroppedTensor(name: tensor.name, reason: "layer \(layer) not selected",
                                                    byteCount: tensor.info.byteCount ?? 0))
            }
        }
        // Renumbering can reorder layers; keep tensors grouped by their new layer index.
        result.tensors = stableSortedByLayer(result.tensors)
        result.config.numHiddenLayers = layers.count
        return result
    }

    /// The model with its first `count` encoder layers.
    public func keepingFirstLayers(_ count: Int) throws -> Model {
        guard count >= 1 else { throw ModelError("--keep-layers must be at least 1, got \(count)") }
        let present = Set(tensors.compactMap { LayerName.index(in: $0.name) })
        if let total = present.max().map({ $0 + 1 }), count > total {
            throw ModelError("--keep-layers \(count) asks for more layers than the model's \(total)")
        }
        return try selectingLayers(Array(0..<count))
    }
}

private func stableSortedByLayer(_ tensors: [Tensor]) -> [Tensor] {
    let keyed = tensors.enumerated().map { (offset: $0.offset, layer: LayerName.index(in: $0.element.name), tensor: $0.element) }
    guard let firstLayer = keyed.firstIndex(where: { $0.layer != nil }) else { return tensors }
    // Layer tensors keep their block position (where the first one stood); others stay put.
    let layerTensors = keyed.filter { $0.layer != nil }
        .sorted { ($0.layer!, $0.offset) < ($1.layer!, $1.offset) }
    var result: [Tensor] = []
    for (i, item) in keyed.enumerated() {
        if i == firstLayer { result.append(contentsOf: layerTensors.map(\.tensor)) }
        if item.layer == nil { result.append(item.tensor) }
    }
    return result
}
