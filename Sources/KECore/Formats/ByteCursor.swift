// MARK: Bounded little-endian reading, and the formats' errors
//
// The one byte decoder of the formats (safetensors, zip, pickle, GGUF): a cursor over borrowed
// bytes whose every read is checked against the end with arithmetic that cannot overflow, so a
// hostile length or offset throws instead of trapping. Each format has its own error type
// (`SafetensorsError`, `ZipError`, `PickleError`, `GGUFError`), naming the file and the byte
// offset where the problem was found; the formats' entry points hand it on as the project's
// `CoreError` ("FILE: MESSAGE at byte N").

/// A byte format ke parses: the prefix its error messages carry.
protocol ByteFormat {
    /// Put before every message ("pickle: "; empty for formats whose messages name themselves).
    static var messagePrefix: String { get }
}

enum SafetensorsFormat: ByteFormat { static let messagePrefix = "" }
enum ZipFormat: ByteFormat { static let messagePrefix = "" }
enum PickleFormat: ByteFormat { static let messagePrefix = "pickle: " }
enum GGUFFormat: ByteFormat { static let messagePrefix = "" }

/// A problem in a file of byte format `Format`: what is wrong, the file, and the byte offset it
/// was found at (nil when the problem is not at one place, as a safetensors JSON field).
struct FormatError<Format: ByteFormat>: Error, Equatable, CustomStringConvertible, CoreErrorConvertible {
    var message: String
    var file: String?
    var offset: Int?

    /// The project's error: "PREFIX MESSAGE at byte N", naming the file.
    var coreError: CoreError {
        CoreError(Format.messagePrefix + message + (offset.map { " at byte \($0)" } ?? ""), file: file)
    }
    var description: String { coreError.description }
}

typealias SafetensorsError = FormatError<SafetensorsFormat>
typealias ZipError = FormatError<ZipFormat>
typealias PickleError = FormatError<PickleFormat>
typealias GGUFError = FormatError<GGUFFormat>

/// An error that has a `CoreError` form (the formats' typed errors).
protocol CoreErrorConvertible: Error {
    var coreError: CoreError { get }
}

/// `body`'s result; a format's typed error it throws becomes its `CoreError` (the form callers
/// and tests catch). Other errors pass unchanged.
///
/// - Throws: what `body` throws, a `CoreErrorConvertible` as its `coreError`.
func withCoreErrors<T>(_ body: () throws -> T) throws -> T {
    do { return try body() } catch let e as any CoreErrorConvertible { throw e.coreError }
}

/// A bounded little-endian reader over borrowed bytes (valid while their owner lives).
///
/// Reads at `position` advance it; reads `at:` an offset do not. Every read checks its extent
/// first and throws `FormatError<Format>` "truncated: …" at the offset of the field.
struct ByteCursor<Format: ByteFormat> {
    let bytes: UnsafeRawBufferPointer
    /// The file the bytes are from, for errors.
    let file: String?
    /// Offset of the next read.
    var position: Int

    init(_ bytes: UnsafeRawBufferPointer, file: String?, position: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.position = position
    }

    /// Bytes from `position` to the end.
    var remaining: Int { bytes.count - position }
    var isAtEnd: Bool { position >= bytes.count }

    /// An error of this format naming the file; at `offset` when given.
    func error(_ message: String, at offset: Int? = nil) -> FormatError<Format> {
        FormatError(message: message, file: file, offset: offset)
    }

    /// Checks that `count` bytes from `offset` are inside the bytes.
    /// - Throws: "truncated: a COUNT-byte field is past the end (SIZE bytes)" at `offset`.
    func check(_ count: Int, at offset: Int) throws(FormatError<Format>) {
        guard count >= 0, offset >= 0, offset <= bytes.count, count <= bytes.count - offset else {
            throw error("truncated: a \(count)-byte field is past the end (\(bytes.count) bytes)", at: offset)
        }
    }

    /// The unsigned little-endian integer of `width` (1…8) bytes at `offset`.
    /// - Throws: "truncated" when the field runs past the end.
    func uint(_ width: Int, at offset: Int) throws(FormatError<Format>) -> UInt64 {
        precondition(width >= 1 && width <= 8)
        try check(width, at: offset)
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[offset + i]) << (8 * UInt64(i)) }
        return v
    }

    /// The unsigned little-endian integer of `width` (1…8) bytes at `position`, advancing.
    /// - Throws: "truncated" when the field runs past the end.
    mutating func uint(_ width: Int) throws(FormatError<Format>) -> UInt64 {
        let v = try uint(width, at: position)
        position += width
        return v
    }

    /// - Throws: "truncated" (as every read below) when the field runs past the end.
    mutating func u8() throws(FormatError<Format>) -> UInt8 { UInt8(try uint(1)) }
    mutating func u16() throws(FormatError<Format>) -> UInt16 { UInt16(try uint(2)) }
    mutating func u32() throws(FormatError<Format>) -> UInt32 { UInt32(try uint(4)) }
    mutating func u64() throws(FormatError<Format>) -> UInt64 { try uint(8) }
    mutating func i8() throws(FormatError<Format>) -> Int8 { Int8(truncatingIfNeeded: try uint(1)) }
    mutating func i16() throws(FormatError<Format>) -> Int16 { Int16(truncatingIfNeeded: try uint(2)) }
    mutating func i32() throws(FormatError<Format>) -> Int32 { Int32(truncatingIfNeeded: try uint(4)) }
    mutating func i64() throws(FormatError<Format>) -> Int64 { Int64(bitPattern: try uint(8)) }
    mutating func f32() throws(FormatError<Format>) -> Float { Float(bitPattern: try u32()) }
    mutating func f64() throws(FormatError<Format>) -> Double { Double(bitPattern: try u64()) }
    /// An IEEE half, widened exactly.
    mutating func f16() throws(FormatError<Format>) -> Float { halfBitsToFloat(try u16()) }
    /// A bfloat16, widened exactly.
    mutating func bf16() throws(FormatError<Format>) -> Float { bf16ToFloat(try u16()) }

    /// The u64 at `offset` as an Int (file offsets and sizes).
    /// - Throws: "truncated", or "WHAT V is too large" when it does not fit in Int.
    func int64(at offset: Int, what: String) throws(FormatError<Format>) -> Int {
        let v = try uint(8, at: offset)
        guard v <= UInt64(Int.max) else { throw error("\(what) \(v) is too large", at: offset) }
        return Int(v)
    }

    /// The `count` bytes at `position`, advancing.
    /// - Throws: "truncated" when they run past the end.
    mutating func take(_ count: Int) throws(FormatError<Format>) -> UnsafeRawBufferPointer {
        try check(count, at: position)
        defer { position += count }
        return UnsafeRawBufferPointer(rebasing: bytes[position..<(position + count)])
    }

    /// The `count` bytes at `position` as UTF-8 (invalid sequences replaced), advancing.
    /// - Throws: "truncated" when they run past the end.
    mutating func string(length count: Int) throws(FormatError<Format>) -> String {
        String(decoding: try take(count), as: UTF8.self)
    }

    /// Moves past `count` bytes.
    /// - Throws: "truncated" when they run past the end.
    mutating func skip(_ count: Int) throws(FormatError<Format>) {
        try check(count, at: position)
        position += count
    }
}

/// The first pair of byte extents that overlap, in offset order (empty extents occupy nothing):
/// the one overlap check of the formats' headers (safetensors tensors, zip entries, GGUF tensors).
func firstOverlap<T>(_ items: [T], extent: (T) -> Range<Int>) -> (T, T)? {
    let sorted = items.filter { !extent($0).isEmpty }
        .sorted { (extent($0).lowerBound, extent($0).upperBound) < (extent($1).lowerBound, extent($1).upperBound) }
    guard sorted.count > 1 else { return nil }
    for i in 1..<sorted.count where extent(sorted[i]).lowerBound < extent(sorted[i - 1]).upperBound {
        return (sorted[i - 1], sorted[i])
    }
    return nil
}
