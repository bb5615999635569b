#if canImport(Glibc)
import Glibc
#endif
import KECore
import KELang

// MARK: Standard streams
//
// How `ke` writes to stdout and stderr (unbuffered, in order) and reads all of stdin.

extension CLI {
    static func writeOut(_ s: String) { write(fd: 1, s + "\n") }

    static func writeError(_ s: String) { write(fd: 2, s + "\n") }

    /// Writes all of `s` to file descriptor `fd` (unbuffered, so stdout and stderr interleave
    /// in order).
    static func write(fd: Int32, _ s: String) {
        var bytes = Array(s.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeMutableBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
        bytes.removeAll()
    }

    // MARK: Standard input

    /// Everything readable from `fd` until end of file.
    static func readAll(fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: buffer[0..<n])
        }
        return out
    }
}
