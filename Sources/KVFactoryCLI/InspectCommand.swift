import Foundation
import ModelFormats

/// `kvfactory inspect`: metadata, tensor table and memory needs of a GGUF file.
enum InspectCommand {
    static let specs: [OptionSpec] = [
        CommonOptions.modelPath,
        .flag("all_metadata", "print long arrays and strings in full instead of abbreviated"),
    ]
    static let help = helpText(command: "inspect", synopsis: "[--model_path FILE]",
                               summary: "Print a GGUF file's metadata, its tensor table with types and shapes, and the memory needed to run it.",
                               specs: specs)

    static func run(_ options: ParsedOptions) throws {
        let path = options.string("model_path") ?? Defaults.modelPath
        let file = try GGUFFile(path: path)
        var out = "file: \(path)\n"
        out += "GGUF version \(file.version), \(file.metadata.count) metadata keys, \(file.tensors.count) tensors, alignment \(file.alignment)\n\n"
        out += "metadata:\n"
        let limit = options.has("all_metadata") ? Int.max : 8
        for key in file.metadataKeys {
            guard let value = file.metadata[key] else { continue }
            out += "  \(key) (\(value.typeName)) = \(value.summary(maxItems: limit, maxCharacters: limit == Int.max ? Int.max : 120))\n"
        }

        out += "\ntensors:\n"
        let nameWidth = min(40, (file.tensors.map(\.name.count).max() ?? 4) + 2)
        out += "  " + "name".padding(toLength: nameWidth, withPad: " ", startingAt: 0) + "type    shape                 bytes\n"
        var typeCounts: [String: (count: Int, bytes: Int)] = [:]
        var elements = 0
        for tensor in file.tensors {
            let shape = "[" + tensor.shape.map(String.init).joined(separator: ", ") + "]"
            out += "  " + tensor.name.padding(toLength: nameWidth, withPad: " ", startingAt: 0)
                + tensor.type.name.padding(toLength: 8, withPad: " ", startingAt: 0)
                + shape.padding(toLength: 22, withPad: " ", startingAt: 0) + "\(tensor.byteCount)\n"
            typeCounts[tensor.type.name, default: (0, 0)].count += 1
            typeCounts[tensor.type.name, default: (0, 0)].bytes += tensor.byteCount
            elements += tensor.elementCount
        }

        out += "\nmemory:\n"
        out += "  file size: \(formatBytes(file.fileSize))\n"
        for (type, entry) in typeCounts.sorted(by: { $0.key < $1.key }) {
            out += "  \(type): \(entry.count) tensors, \(formatBytes(entry.bytes))\n"
        }
        out += "  parameters: \(elements) (\(String(format: "%.1f", Double(elements) / 1e6)) M)\n"
        out += "  weights dequantized to float32: \(formatBytes(elements * 4))\n"
        if let architecture = file.architecture,
           let layers = file.int("\(architecture).block_count"),
           let heads = file.int("\(architecture).attention.head_count"),
           let embedding = file.int("\(architecture).embedding_length") {
            let kvHeads = file.int("\(architecture).attention.head_count_kv") ?? heads
            let headDim = file.int("\(architecture).attention.key_length") ?? embedding / heads
            let perToken = 2 * layers * kvHeads * headDim * 4
            out += "  float32 KV cache per token (one entry per KV head): \(formatBytes(perToken))\n"
            if let context = file.int("\(architecture).context_length") {
                out += "  float32 KV cache at the full context of \(context) tokens: \(formatBytes(perToken * context))\n"
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

/// Formats a byte count with binary units, e.g. "93.8 MiB".
func formatBytes(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024 && unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@ (%d bytes)", value, units[unit], bytes)
}
