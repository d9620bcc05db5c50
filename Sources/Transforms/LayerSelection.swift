import ModelIR

extension Model {
    /// The model with only the encoder layers in `layers`, renumbered 0, 1, … in the order given (RBT3 was
    /// initialised this way from the first three layers of RoBERTa-wwm-ext). Tensors of other layers are
    /// dropped and listed in `dropped`; `num_hidden_layers` is rewritten.
    ///
    /// Works on BERT-style names (`encoder.layer.{i}.`, with any prefix), Perceiver IO's latent
    /// self-attention blocks, and ALBERT (whose one shared layer group is applied fewer times).
    public func selectingLayers(_ layers: [Int]) throws -> Model {
        if config.architecture == .albert { return try selectingALBERTLayers(layers) }
        let present = Set(tensors.compactMap { LayerName.index(in: $0.name) })
        guard !present.isEmpty else {
            throw ModelError(kind: .invalidRequest, "layer selection needs BERT-style 'encoder.layer.N.' tensor names; this model has none")
        }
        let count = (present.max() ?? -1) + 1
        guard !layers.isEmpty else { throw ModelError(kind: .invalidRequest, "layer selection must keep at least one layer") }
        guard Set(layers).count == layers.count else { throw ModelError(kind: .invalidRequest, "layer list \(layers) repeats a layer") }
        for layer in layers where !present.contains(layer) {
            throw ModelError(kind: .invalidRequest, "layer \(layer) does not exist; the model has layers 0...\(count - 1)")
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
                result.dropped.append(DroppedTensor(name: tensor.name, kind: .layerNotSelected, reason: "layer \(layer) not selected",
                                                    byteCount: tensor.info.byteCount ?? 0))
            }
        }
        // Renumbering can reorder layers; keep tensors grouped by their new layer index.
        result.tensors = stableSortedByLayer(result.tensors)
        let head = task.head
        if head != .encoder, layers != Array(0..<count) {
            result.notes.append(Note(.task, "the \(head.description) head is kept, but it was trained on the output of all \(count) layers: "
                + "fine-tune the truncated model again before trusting its outputs"))
        }
        if config.architecture == .perceiver {
            result.config["num_self_attends_per_block"] = .integer(layers.count)
        } else {
            result.config.numHiddenLayers = layers.count
        }
        return result
    }

    /// ALBERT applies one shared layer group `num_hidden_layers` times: keeping the first N applications
    /// changes the config only. Any other list cannot be expressed and is refused.
    func selectingALBERTLayers(_ layers: [Int]) throws -> Model {
        guard let total = config.numHiddenLayers else { throw ModelError("ALBERT config lacks num_hidden_layers") }
        guard !layers.isEmpty, layers == Array(0..<layers.count) else {
            throw ModelError(kind: .invalidRequest, "ALBERT shares one layer group across its \(total) layers: only a prefix (0,1,…) can be kept, not \(layers)")
        }
        guard layers.count <= total else { throw ModelError(kind: .invalidRequest, "layer \(layers.count - 1) does not exist; the model has layers 0...\(total - 1)") }
        var result = self
        result.config.numHiddenLayers = layers.count
        result.notes.append(Note(.info, "ALBERT: the shared layer group is now applied \(layers.count) times instead of \(total); no tensor changes"))
        if task.head != .encoder, layers.count < total {
            result.notes.append("the \(task.head.description) head is kept, but it was trained on all \(total) layers: fine-tune the truncated model again")
        }
        return result
    }

    /// The number of encoder layers (from the tensors, or the config for ALBERT).
    public var layerCount: Int? {
        if config.architecture == .albert { return config.numHiddenLayers }
        let present = Set(tensors.compactMap { LayerName.index(in: $0.name) })
        return present.isEmpty ? nil : (present.max() ?? 0) + 1
    }

    /// The model without pooler and pre-training heads (`pooler.*`, `cls.*`, ALBERT's `predictions.*` and
    /// `sop_classifier.*`), listed in `dropped`.
    public func droppingHeads() -> Model {
        var result = self
        result.tensors = tensors.filter { tensor in
            guard TensorNames.isPoolerOrPreTrainingHead(tensor.name) else { return true }
            result.dropped.append(DroppedTensor(name: tensor.name, kind: .head, reason: "head (dropped on request)", byteCount: tensor.info.byteCount ?? 0))
            return false
        }
        return result
    }

    /// The most layers a selection may name (far above any real encoder; a bound on what a list can allocate).
    public static let maximumSelectedLayers = 4096

    /// The model with its first `count` encoder layers.
    public func keepingFirstLayers(_ count: Int) throws -> Model {
        guard count >= 1 else { throw ModelError(kind: .invalidRequest, "a layer selection keeps at least 1 layer, not \(count)") }
        guard count <= Self.maximumSelectedLayers else {
            throw ModelError(kind: .invalidRequest, "cannot keep \(count) layers (at most \(Self.maximumSelectedLayers))")
        }
        if let total = layerCount, count > total {
            throw ModelError(kind: .invalidRequest, "keeping the first \(count) layers asks for more layers than the model's \(total)")
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
