import Foundation

/// Builds GGUF files byte by byte, so tests control every field, including broken ones.
struct GGUFTestFile {
    var bytes: [UInt8] = []

    mutating func u8(_ v: UInt8) { bytes.append(v) }
    mutating func u32(_ v: UInt32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func i32(_ v: Int32) { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    mutating func f32(_ v: Float) { u32(v.bitPattern) }
    mutating func f64(_ v: Double) { u64(v.bitPattern) }
    mutating func string(_ s: String) {
        let utf8 = Array(s.utf8)
        u64(UInt64(utf8.count))
        bytes.append(contentsOf: utf8)
    }

    /// Writes the header: magic, version, tensor count and metadata count.
    mutating func header(version: UInt32 = 3, tensorCount: UInt64, metadataCount: UInt64) {
        bytes.append(contentsOf: Array("GGUF".utf8))
        u32(version)
        u64(tensorCount)
        u64(metadataCount)
    }

    mutating func tensorInfo(name: String, shape: [UInt64], type: UInt32, offset: UInt64) {
        string(name)
        u32(UInt32(shape.count))
        for extent in shape { u64(extent) }
        u32(type)
        u64(offset)
    }

    mutating func pad(to alignment: Int) {
        while bytes.count % alignment != 0 { bytes.append(0) }
    }

    func write(name: String) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kvfactory-gguf-tests", isDirectory: true)
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = directory.appendingPathComponent(name)
        try Data(bytes).write(to: url)
        return url.path
    }
}
