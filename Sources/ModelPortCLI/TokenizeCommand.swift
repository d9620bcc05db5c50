import ArgumentParser
import BinaryIO
import ModelIR
import ModelPort
import Tokenizers

/// `modelport tokenize MODEL --text …`: the tokens and ids the model's own transformers tokenizer gives.
struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Tokenize text as the model's transformers tokenizer does and print the tokens and ids.",
        discussion: """
            The tokenizer is picked from the model's files as transformers' AutoTokenizer would: WordPiece \
            (BertTokenizer: vocab.txt or tokenizer.json, with tokenizer_config.json's do_lower_case, strip_accents, \
            tokenize_chinese_chars), SentencePiece unigram (AlbertTokenizer: spiece.model or tokenizer.json), byte-level \
            BPE (RobertaTokenizer: vocab.json + merges.txt or tokenizer.json) or UTF-8 bytes (PerceiverTokenizer, \
            from config.json's model_type). Special tokens glued to words are split out first; special tokens are \
            added around each text (and its --pair), and sequences are truncated (longest first) to \
            tokenizer_config.json's model_max_length, as with truncation=True.

            --json prints {"input_ids": [[…]], "tokens": [[…]], "attention_mask": [[…]], "token_type_ids": [[…]]}, \
            one list per --text in order, unpadded.

            Example:
              modelport tokenize Samples/tokenizers/bert-uncased --text "巴黎是[MASK]国的首都" --text "x[MASK]y"
              modelport tokenize Samples/tokenizers/albert --text "What is ALBERT?" --pair "A lite BERT." --json
            """
    )

    @Argument(help: "The model folder (or a model file beside its tokenizer files).")
    var model: String

    @Option(name: .customLong("text"), help: ArgumentHelp("A text to tokenize (repeatable).", valueName: "text"))
    var texts: [String] = []

    @Option(name: .customLong("pair"), help: ArgumentHelp("The second text of a pair, one per --text (repeatable).", valueName: "text"))
    var pairs: [String] = []

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard !texts.isEmpty else { throw ValidationError("give at least one --text") }
        guard pairs.isEmpty || pairs.count == texts.count else {
            throw ValidationError("give one --pair per --text (\(texts.count) texts, \(pairs.count) pairs)")
        }
    }

    func run() throws {
        let tokenizer = try Verification.tokenizer(at: model)
        let encodings: [Encoding]
        do {
            encodings = try texts.indices.map { try tokenizer.encode(texts[$0], pair: pairs.isEmpty ? nil : pairs[$0]) }
        } catch let error as TokenizerError {
            throw ModelError(file: error.file, error.reason)
        }
        let console = Console.current
        if json {
            func rows(_ values: (Encoding) -> [Int]) -> JSON { .array(encodings.map { .array(values($0).map(JSON.integer)) }) }
            console.out(JSON.object([
                ("input_ids", rows(\.ids)),
                ("tokens", .array(encodings.map { .array($0.tokens.map(JSON.string)) })),
                ("attention_mask", rows(\.attentionMask)),
                ("token_type_ids", rows(\.typeIds)),
            ]).serialized())
            return
        }
        console.out("\(tokenizer.name) (\(tokenizer.vocabularySize) tokens\(tokenizer.maxLength.map { ", at most \($0) per sequence" } ?? ""))")
        for (i, encoding) in encodings.enumerated() {
            let pair = pairs.isEmpty ? "" : " + \(pairs[i].debugDescription)"
            console.out("\(i + 1). \(texts[i].debugDescription)\(pair): \(encoding.ids.count) tokens")
            console.out("   tokens: " + encoding.tokens.map { $0.debugDescription.dropFirst().dropLast() }.joined(separator: " "))
            console.out("   ids:    " + encoding.ids.map(String.init).joined(separator: " "))
            if encoding.typeIds.contains(where: { $0 != 0 }) {
                console.out("   types:  " + encoding.typeIds.map(String.init).joined(separator: " "))
            }
        }
    }
}
