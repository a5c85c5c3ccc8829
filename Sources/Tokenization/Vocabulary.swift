/// Kinds of vocabulary entry, from `tokenizer.ggml.token_type`
/// (1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte).
struct TokenAttributes: OptionSet, Sendable {
    let rawValue: UInt8

    static let normal = TokenAttributes(rawValue: 1)
    static let unknown = TokenAttributes(rawValue: 2)
    static let control = TokenAttributes(rawValue: 4)
    static let userDefined = TokenAttributes(rawValue: 8)
    static let unused = TokenAttributes(rawValue: 16)
    /// A byte-fallback token written `<0xXX>`.
    static let byte = TokenAttributes(rawValue: 32)

    /// Tokens whose text the special-token splitter finds in input text.
    static let splitOut: TokenAttributes = [.control, .userDefined, .unknown]
    /// Tokens that decoding drops when asked to skip special tokens.
    static let special: TokenAttributes = [.control, .unknown]

    init(rawValue: UInt8) { self.rawValue = rawValue }

    init(tokenType: Int) {
        switch tokenType {
        case 1: self = .normal
        case 2: self = .unknown
        case 3: self = .control
        case 4: self = .userDefined
        case 5: self = .unused
        case 6: self = .byte
        default: self = []
        }
    }
}

/// The token strings of a vocabulary with their attributes and scores, and a lookup from text to id.
struct Vocabulary: Sendable {
    let texts: [String]
    var attributes: [TokenAttributes]
    /// SentencePiece merge scores (higher merges first); zeros when the file has none.
    let scores: [Float]
    private let idOfText: ByteSequenceTable

    var count: Int { texts.count }

    init(texts rawTexts: [String], attributes: [TokenAttributes], scores: [Float]) {
        // llama.cpp renames empty entries so that every id has a distinct, non-empty text.
        texts = rawTexts.enumerated().map { index, text in text.isEmpty ? "[EMPTY_\(index)]" : text }
        self.attributes = attributes
        self.scores = scores
        var table = ByteSequenceTable(minimumCapacity: rawTexts.count)
        for (id, text) in texts.enumerated() {
            // A text listed twice maps to its last id, as in llama.cpp.
            table.insert(Array(text.utf8), value: Int32(id), replace: true)
        }
        idOfText = table
    }

    func id(utf8 text: [UInt8]) -> Int32? {
        idOfText.value(text)
    }

    @inline(__always)
    func id(_ text: UnsafePointer<UInt8>, count: Int) -> Int32? {
        idOfText.value(text, count: count)
    }

    /// The byte that a `<0xXX>` byte token stands for.
    static func byteValue(ofByteToken text: String) -> UInt8? {
        let utf8 = Array(text.utf8)
        guard utf8.count == 6, utf8[0] == UInt8(ascii: "<"), utf8[1] == UInt8(ascii: "0"),
              utf8[2] == UInt8(ascii: "x"), utf8[5] == UInt8(ascii: ">") else { return nil }
        return UInt8(String(decoding: utf8[3..<5], as: UTF8.self), radix: 16)
    }
}
