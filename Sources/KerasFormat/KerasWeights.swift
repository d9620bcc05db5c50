import BinaryIO
import ModelIR
import Transforms

/// Reads Keras 2 HDF5 weight files: Hugging Face's `tf_model.h5` (`TFPreTrainedModel.save_pretrained`, which calls
/// tf-keras `save_weights` in the HDF5 format) and other `save_weights` / `model.save(….h5)` files.
///
/// The layout (tf-keras `legacy/saving/hdf5_format.py`, `save_weights_to_hdf5_group`): the root (or its
/// `model_weights` group) has the attribute `layer_names`; each layer's group has `weight_names`, and each weight is
/// the dataset at `<layer>/<weight name>`, such as `bert/tf_bert_model/bert/encoder/layer_._0/attention/self/query/
/// kernel:0`. The names are taken from those paths, found by walking the groups' hard links; the attributes
/// (variable-length strings in the global heap, which libhdf5 1.10 reads without bounds checks) are never read.
/// Names become Hugging Face PyTorch names by `pytorchName`, the rules of transformers'
/// `convert_tf_weight_name_to_pt_weight_name` (`modeling_tf_pytorch_utils.py`); kernels are transposed lazily.
///
/// Keras 3 files (`*.weights.h5`, and `.keras` archives holding `model.weights.h5`) store variables by position
/// (`layers/<layer>/vars/0`) without names; they are recognized and refused with an error that says so.
public enum KerasWeights {
    /// Whether `bytes` hold the HDF5 signature at offset 0, 512, 1024, … (where a superblock may start).
    package static func recognizes(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var offset = 0
        while offset + hdf5Signature.count <= bytes.count {
            if (0..<hdf5Signature.count).allSatisfy({ bytes[offset + $0] == hdf5Signature[$0] }) { return true }
            offset = offset == 0 ? 512 : offset * 2
        }
        return false
    }

    /// The weights of `path` under their Keras names (`tf_bert_model/bert/…/kernel:0`), data mapped where it is
    /// stored contiguously and read through the library, one dataset at a time, where it is chunked or compressed.
    public static func readTensors(path: String) throws -> (tensors: [Tensor], notes: [Note]) {
        let limits = ReaderLimits.current
        let mapped: MappedFile
        do { mapped = try MappedFile(path: path) } catch { throw ModelError(error, file: path) }
        guard mapped.withBytes({ recognizes($0) }) else {
            throw ModelError(file: path, location: .offset(0), "no HDF5 signature at offset 0, 512, 1024, …")
        }
        let file = try HDF5File(path: path, fileSize: mapped.count, limits: limits)
        // The layout is recognized by the attribute's name alone: `layer_names` is never read (see
        // `HDF5File.hasAttribute`).
        var base = ""
        var isKeras = try file.hasAttribute("layer_names", of: "")
        if !isKeras, try file.links(of: "").contains("model_weights"), try file.kind("model_weights") == 1,
           try file.hasAttribute("layer_names", of: "model_weights") {
            base = "model_weights"
            isKeras = true
        }
        guard isKeras else {
            let top = try file.links(of: "")
            if top.contains("layers") || top.contains("vars") || top.contains("_layer_checkpoint_dependencies") {
                throw ModelError(kind: .unsupported, file: path, """
                    a Keras 3 weights file (layers/<name>/vars/<index>: variables saved by position, without names); \
                    ModelPort reads Keras 2 HDF5 weights such as Hugging Face's tf_model.h5 (tf-keras save_weights)
                    """)
            }
            throw ModelError(kind: .unsupported, file: path, "an HDF5 file without Keras weights (no layer_names attribute at / or /model_weights)")
        }
        // tf-keras `save_weights_to_hdf5_group` writes one group per layer and, in it, each weight as a dataset
        // at the weight's own name (`<layer>/tf_bert_model/bert/…/kernel:0`, h5py creating the groups between):
        // the path under the layer group is the name `weight_names` lists.
        var tensors: [Tensor] = []
        var notes: [Note] = []
        var seen = Set<String>()
        var tied = 0
        var loose = 0
        for objectPath in try file.datasets(under: base) {
            let relative = base.isEmpty ? objectPath : String(objectPath.dropFirst(base.count + 1))
            guard let slash = relative.firstIndex(of: "/") else {
                loose += 1  // a dataset beside the layer groups belongs to no layer
                continue
            }
            let name = String(relative[relative.index(after: slash)...])
            // A tied weight (TFBertForMaskedLM's word embedding, used by its MLM head) is saved under each layer
            // using it: one variable, read once (from the layer that comes first).
            guard seen.insert(name).inserted else {
                tied += 1
                continue
            }
            guard tensors.count < limits.maxTensors else {
                throw ModelError(kind: .limitExceeded, file: path, location: .tensor(name), "more than \(limits.maxTensors) weights")
            }
            let fullPath = base.isEmpty ? objectPath : base + "/" + relative
            let info = try file.dataset(fullPath, fileSize: mapped.count)
            let data: TensorData
            if let range = info.mappedRange {
                data = .mapped(mapped, range: range)
            } else {
                let fileSize = mapped.count
                data = .producer { try file.read(fullPath, expected: info, fileSize: fileSize) }
            }
            tensors.append(Tensor(name: name, dtype: info.dtype, shape: info.shape, data: data))
        }
        if loose > 0 { notes.append("\(loose) datasets outside any layer group were skipped") }
        if tensors.isEmpty { notes.append("the Keras file lists no weights") }
        if tied > 0 { notes.append("\(tied) weights listed again by another layer (tied) were read once") }
        return (tensors, notes)
    }

    /// Reads `path` into a model with Hugging Face PyTorch names. Config and tokenizer files are the pipeline's to
    /// attach. With `strict`, a weight whose last component no rule knows (`knownLastComponents`) is an error
    /// naming it; otherwise it keeps its spelling and a note lists it.
    public static func read(path: String, strict: Bool = false) throws -> Model {
        var (tensors, notes) = try readTensors(path: path)
        var mappedTensors: [Tensor] = []
        var owner: [String: String] = [:]
        var unknown: [String] = []
        for tensor in tensors {
            let (name, transpose) = pytorchName(tensor.name)
            if !knownLastComponents.contains(lastComponent(tensor.name)) {
                if strict {
                    throw ModelError(file: path, location: .tensor(tensor.name), "matches no Keras naming rule (strict reading)")
                }
                unknown.append(tensor.name)
            }
            var mapped = tensor
            if transpose {
                guard tensor.shape.rank == 2 else {
                    throw ModelError(file: path, location: .tensor(tensor.name), "a kernel of rank \(tensor.shape.rank) (only Dense kernels, rank 2, are read)")
                }
                mapped = try tensor.transposed()
            }
            if let other = owner[name] {
                throw ModelError(file: path, location: .tensor(tensor.name), "maps to '\(name)', as '\(other)' does")
            }
            owner[name] = tensor.name
            mapped.name = name
            mappedTensors.append(mapped)
        }
        tensors = []
        // A bare encoder (TFBertModel) saves every weight under its main layer (`bert.`); PyTorch's BertModel has
        // no such prefix (transformers removes `base_model_prefix + "."` when loading into the base model).
        if let first = mappedTensors.first.map({ TensorNames.splitModelPrefix($0.name).prefix }), !first.isEmpty,
           mappedTensors.allSatisfy({ $0.name.hasPrefix(first) }) {
            for i in mappedTensors.indices { mappedTensors[i].name.removeFirst(first.count) }
        }
        if !unknown.isEmpty {
            notes.append(Note(.naming, "\(unknown.count) Keras names no rule knows kept their spelling: \(unknown.prefix(3).joined(separator: ", "))"))
        }
        return Model(tensors: mappedTensors, notes: notes, sourceFormat: "Keras HDF5 weights")
    }

    /// The last components the rules know: those `lastComponentRules` rename, and `bias` / `weight`, which keep
    /// their names.
    public static let knownLastComponents: Set<String> = Set(lastComponentRules.map(\.keras)).union(["bias", "weight"])

    /// The last level of a Keras name, without its `:0` suffix.
    static func lastComponent(_ kerasName: String) -> String {
        var name = Substring(kerasName.split(separator: "/").last ?? "")
        if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].allSatisfy(\.isNumber) { name = name[..<colon] }
        return String(name)
    }

    /// The last name component's PyTorch spelling, and whether the array is transposed (transformers'
    /// `convert_tf_weight_name_to_pt_weight_name`): Dense `kernel` [in, out] → `weight` [out, in]; Embedding
    /// `embeddings` and the `weight` of transformers' own embedding layers → `weight`; LayerNorm `gamma` / `beta` →
    /// `weight` / `bias`.
    public static let lastComponentRules: [(keras: String, pytorch: String, transpose: Bool)] = [
        ("kernel", "weight", true), ("embeddings", "weight", false), ("gamma", "weight", false), ("beta", "bias", false),
    ]

    /// A Keras weight name's PyTorch name and whether its array is transposed. Structure, in transformers' order:
    /// the `:0` suffix goes; a component `a___b` (not the last) becomes `b` (`mlm___cls` → `cls`, how the TF classes
    /// give a layer a PyTorch name the scope would not allow); `_._` separates levels (`layer_._3` → `layer/3`,
    /// Keras lists); the first level (the model's scope, `tf_bert_model`) goes; levels join with `.`.
    public static func pytorchName(_ kerasName: String) -> (name: String, transpose: Bool) {
        var name = kerasName
        if let colon = name.lastIndex(of: ":"), name[name.index(after: colon)...].allSatisfy(\.isNumber) {
            name = String(name[..<colon])
        }
        var levels = name.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        for i in levels.indices.dropLast() {
            levels[i] = afterLastTripleUnderscore(levels[i])
        }
        levels = levels.flatMap { $0.split(separator: "_._", omittingEmptySubsequences: true).map(String.init) }
        if levels.count > 1 { levels.removeFirst() }
        var transpose = false
        if let last = levels.last, let rule = lastComponentRules.first(where: { $0.keras == last }) {
            levels[levels.count - 1] = rule.pytorch
            transpose = rule.transpose
        }
        return (levels.joined(separator: "."), transpose)
    }

    /// What follows the last `___` in `component` (searched from the end, so `a____b` gives `b`), or all of it.
    static func afterLastTripleUnderscore(_ component: String) -> String {
        let bytes = Array(component.utf8)
        var start = bytes.count - 3
        while start >= 0 {
            if bytes[start] == UInt8(ascii: "_"), bytes[start + 1] == UInt8(ascii: "_"), bytes[start + 2] == UInt8(ascii: "_") {
                return String(decoding: bytes[(start + 3)...], as: UTF8.self)
            }
            start -= 1
        }
        return component
    }
}
