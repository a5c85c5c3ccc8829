/// GPT-2's byte-level alphabet: every byte maps to one printable Unicode scalar, so byte-level BPE
/// vocabularies store any byte sequence as text.
///
/// Printable Latin-1 bytes ('!'...'~', '¡'...'¬', '®'...'ÿ') map to themselves; the other 68 bytes map,
/// in byte order, to U+0100 and up. So the space 0x20 becomes 'Ġ' (U+0120) and the newline 0x0A 'Ċ' (U+010A).
enum ByteLevel {
    /// The scalar that stands for each byte.
    static let scalarOfByte: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 0x100
        for byte in 0..<256 {
            if isPrintable(byte) {
                table[byte] = UInt32(byte)
            } else {
                table[byte] = next
                next += 1
            }
        }
        return table
    }()

    /// The byte that a scalar of the alphabet stands for, or nil for scalars outside it.
    static func byte(of scalar: UInt32) -> UInt8? {
        if scalar < 256 {
            return isPrintable(Int(scalar)) ? UInt8(scalar) : nil
        }
        guard scalar < 0x100 + 68 else { return nil }
        return byteOfShiftedScalar[Int(scalar - 0x100)]
    }

    /// The alphabet text of a byte sequence, as UTF-8.
    static func encode<S: Sequence>(_ bytes: S) -> [UInt8] where S.Element == UInt8 {
        var text: [UInt8] = []
        for byte in bytes {
            appendUTF8(scalarOfByte[Int(byte)], to: &text)
        }
        return text
    }

    /// The bytes that an alphabet text stands for, or nil when it contains a scalar outside the alphabet.
    static func decode(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            guard let byte = byte(of: scalar.value) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }

    private static func isPrintable(_ byte: Int) -> Bool {
        (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
    }

    private static let byteOfShiftedScalar: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 68)
        for byte in 0..<256 where !isPrintable(byte) {
            table[Int(scalarOfByte[byte] - 0x100)] = UInt8(byte)
        }
        return table
    }()
}

/// Appends the UTF-8 encoding of a scalar value (assumed valid) to a byte array.
@inline(__always)
func appendUTF8(_ value: UInt32, to bytes: inout [UInt8]) {
    switch value {
    case 0..<0x80:
        bytes.append(UInt8(value))
    case 0x80..<0x800:
        bytes.append(UInt8(0xC0 | (value >> 6)))
        bytes.append(UInt8(0x80 | (value & 0x3F)))
    case 0x800..<0x1_0000:
        bytes.append(UInt8(0xE0 | (value >> 12)))
        bytes.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (value & 0x3F)))
    default:
        bytes.append(UInt8(0xF0 | (value >> 18)))
        bytes.append(UInt8(0x80 | ((value >> 12) & 0x3F)))
        bytes.append(UInt8(0x80 | ((value >> 6) & 0x3F)))
        bytes.append(UInt8(0x80 | (value & 0x3F)))
    }
}
