// MARK: A restricted pickle reader for PyTorch state dicts
//
// A pickle is a program for a stack machine; Python's unpickler can call any importable
// function. This reader executes nothing. It interprets only the opcodes a plain state dict
// uses (protocols 2–5, as `torch.save` writes them) and resolves only the globals that
// `torch.load(weights_only=True)` accepts for one:
//
//   collections.OrderedDict                 → an empty dict
//   torch._utils._rebuild_tensor_v2         → a tensor descriptor (storage, offset, size, stride)
//   torch._utils._rebuild_parameter         → the tensor it wraps
//   torch._utils._rebuild_parameter_with_state
//                                           → the tensor it wraps (the Python attributes are dropped)
//   torch._tensor._rebuild_from_type_v2     → the tensor its rebuild function returns, when the
//                                             type is torch.Tensor or torch.nn.parameter.Parameter
//                                             (the attributes are dropped)
//   torch.Tensor, torch.nn.parameter.Parameter
//                                           → only as the type argument above
//   torch.{Float,Half,BFloat16,Double,Long,Int,Short,Char,Byte,Bool}Storage
//                                           → a storage element type
//
// A storage arrives as a persistent id: ('storage', TYPE, KEY, LOCATION, NUMEL) in the zip
// format (a reference to the archive entry `data/KEY`), ('storage', TYPE, KEY, LOCATION, NUMEL,
// None) in the legacy format (torch/serialization.py `_legacy_load`; a storage view, the
// non-None last item that torch < 0.4 wrote, is refused). It is never loaded by the pickle
// itself. Any other global or opcode is refused with an error naming it; the stack, the memo and
// the nesting depth of the values built are capped. A list or dict can only grow while it is
// inside no other value (it is sealed when placed in one), so recorded depths never go stale and
// no value can contain itself: no value is ever deeper than the cap, and releasing one never
// recurses deeper than that.

/// A storage referenced by a persistent id.
struct PickleStorage: Equatable {
    var key: String
    var dtype: SafetensorsDType
    var numel: Int
}

/// A tensor described by `_rebuild_tensor_v2`: a strided view of a storage (offsets and strides
/// in elements).
struct PickleTensor: Equatable {
    var storage: PickleStorage
    var offset: Int
    var shape: [Int]
    var stride: [Int]
}

/// A mutable dict (shared by reference through the memo, as in Python).
final class PickleDict {
    var pairs: [(key: PickleValue, value: PickleValue)] = []
    /// Nesting depth (1 + the deepest key or value), kept by the reader.
    var depth = 1
    /// Set once the dict is placed inside another value; a sealed dict takes no more items.
    var sealed = false
}

/// A mutable list.
final class PickleList {
    var items: [PickleValue] = []
    /// Nesting depth (1 + the deepest item), kept by the reader.
    var depth = 1
    /// Set once the list is placed inside another value; a sealed list takes no more items.
    var sealed = false
}

/// The values the restricted reader can build.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    /// An integer wider than 64 bits (a LONG1 of 9 to 255 bytes): its little-endian two's
    /// complement bytes. Only the legacy format's magic number is one.
    case largeInt([UInt8])
    case float(Double)
    case string(String)
    case tuple([PickleValue])
    case list(PickleList)
    case dict(PickleDict)
    /// An allow-listed global, by "module.name".
    case global(String)
    case storage(PickleStorage)
    case tensor(PickleTensor)

    var kind: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int, .largeInt: return "int"
        case .float: return "float"
        case .string: return "str"
        case .tuple: return "tuple"
        case .list: return "list"
        case .dict: return "dict"
        case .global(let g): return g
        case .storage: return "storage"
        case .tensor: return "tensor"
        }
    }
}

/// Limits that keep a hostile pickle from exhausting memory.
let pickleMaxStack = 1_000_000
let pickleMaxMemo = 1_000_000
let pickleMaxDims = 64
/// The deepest nesting of tuples, lists and dicts the reader builds (a state dict needs a few
/// levels; a hostile one nests a million to exhaust the stack when the value is released).
let pickleMaxDepth = 1_000

/// Interprets `bytes` as a pickle with the restricted opcode and global sets above and returns
/// the value left by STOP.
///
/// - Throws: as `readRestrictedPickle(_:from:file:persistentIDs:storageSeen:)`.
func readRestrictedPickle(_ bytes: UnsafeRawBufferPointer, file: String?) throws -> PickleValue {
    try readRestrictedPickle(bytes, from: 0, file: file).value
}

/// Interprets the pickle that starts at byte `start` of `bytes` with the restricted opcode and
/// global sets above; returns the value left by STOP and the offset just past STOP (where the
/// next pickle of a legacy stream starts). Storages are named as `persistentIDs` says, and
/// `storageSeen` is told of each one as its persistent id is read.
///
/// - Throws: `CoreError` naming `file` and the byte for an unknown or refused opcode or global
///   (by name), a truncated or malformed program, a stack or memo past its cap, values nested
///   more than `pickleMaxDepth` deep ("nested too deeply"), a list or dict changed after it was
///   placed inside another value (a cycle, never in a state dict), or a call with arguments a
///   state dict never uses.
func readRestrictedPickle(_ bytes: UnsafeRawBufferPointer, from start: Int, file: String?,
                          persistentIDs: PicklePersistentIDs = .zip,
                          storageSeen: (PickleStorage) -> Void = { _ in }) throws -> (value: PickleValue, end: Int) {
    try withCoreErrors {
        try withoutActuallyEscaping(storageSeen) { seen in
            var machine = PickleMachine(ByteCursor(bytes, file: file, position: start), persistentIDs: persistentIDs, storageSeen: seen)
            while true {
                if let value = try machine.step() { return (value, machine.r.position) }
            }
        }
    }
}

/// The restricted pickle machine: the program with its counter, the stack (with each entry's
/// nesting depth), the marks and the memo.
struct PickleMachine {
    var r: ByteCursor<PickleFormat>
    var stack: [PickleValue] = []
    /// Depth of each stack entry (tuples; lists and dicts keep their own).
    var depths: [Int] = []
    var marks: [Int] = []
    var memo: [Int: (value: PickleValue, depth: Int)] = [:]
    /// Offset of the opcode being run, for errors.
    var opcodeAt = 0
    let persistentIDs: PicklePersistentIDs
    let storageSeen: (PickleStorage) -> Void

    init(_ r: ByteCursor<PickleFormat>, persistentIDs: PicklePersistentIDs, storageSeen: @escaping (PickleStorage) -> Void) {
        self.r = r
        self.persistentIDs = persistentIDs
        self.storageSeen = storageSeen
    }

    /// An error at the opcode being run.
    func fail(_ message: String) -> PickleError { r.error(message, at: opcodeAt) }

    /// A line ending in `\n` (GLOBAL's operands), without the newline.
    /// - Throws: `PickleError` "truncated line" when there is no newline.
    mutating func line() throws(PickleError) -> String {
        var e = r.position
        while e < r.bytes.count && r.bytes[e] != 0x0A { e += 1 }
        guard e < r.bytes.count else { throw r.error("truncated line", at: r.position) }
        let s = try r.string(length: e - r.position)
        r.position = e + 1
        return s
    }

    /// The depth of `v`, recorded as `recorded` when it was built (lists and dicts keep their own).
    func depthOf(_ v: PickleValue, _ recorded: Int) -> Int {
        switch v {
        case .list(let l): return l.depth
        case .dict(let d): return d.depth
        default: return recorded
        }
    }

    /// Seals the lists and dicts among `children`, which are being placed inside another value,
    /// and returns the depth of a container holding them.
    /// - Throws: `PickleError` "nested too deeply" past `pickleMaxDepth`.
    func enclose(_ children: [(value: PickleValue, depth: Int)]) throws(PickleError) -> Int {
        var deepest = 0
        for (v, d) in children {
            switch v {
            case .list(let l): l.sealed = true
            case .dict(let dd): dd.sealed = true
            default: break
            }
            deepest = max(deepest, depthOf(v, d))
        }
        guard deepest < pickleMaxDepth else { throw fail("values nested too deeply (more than \(pickleMaxDepth) levels)") }
        return deepest + 1
    }

    /// - Throws: `PickleError` when the stack would grow past `pickleMaxStack`.
    mutating func push(_ v: PickleValue, depth: Int = 0) throws(PickleError) {
        guard stack.count < pickleMaxStack else { throw fail("stack grows past \(pickleMaxStack) entries") }
        stack.append(v)
        depths.append(depth)
    }

    /// - Throws: `PickleError` "stack underflow" on an empty stack or past the last MARK.
    mutating func popEntry() throws(PickleError) -> (value: PickleValue, depth: Int) {
        guard let v = stack.popLast(), let d = depths.popLast() else { throw fail("stack underflow") }
        if let m = marks.last, stack.count < m { throw fail("stack underflow past a MARK") }
        return (v, d)
    }

    /// - Throws: as `popEntry`.
    mutating func pop() throws(PickleError) -> PickleValue { try popEntry().value }

    /// The entries above the last MARK, removed with it.
    /// - Throws: `PickleError` when there is no MARK.
    mutating func popMark() throws(PickleError) -> [(value: PickleValue, depth: Int)] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK for the opcode") }
        let items = (m..<stack.count).map { (stack[$0], depths[$0]) }
        stack.removeSubrange(m...)
        depths.removeSubrange(m...)
        return items
    }

    /// Pushes a tuple of `items`.
    /// - Throws: as `enclose` and `push`.
    mutating func pushTuple(_ items: [(value: PickleValue, depth: Int)]) throws(PickleError) {
        let d = try enclose(items)
        try push(.tuple(items.map(\.value)), depth: d)
    }

    /// Adds `items` to the list `l`.
    /// - Throws: `PickleError` once `l` is inside another value, or if it is among `items`.
    func append(_ l: PickleList, _ items: [(value: PickleValue, depth: Int)]) throws(PickleError) {
        guard !l.sealed else { throw fail("APPEND to a list already inside another value (a cycle)") }
        for (v, _) in items { if case .list(let x) = v, x === l { throw fail("a list appended to itself") } }
        l.depth = max(l.depth, try enclose(items))
        l.items.append(contentsOf: items.map(\.value))
    }

    /// Adds the key-value pairs `kv` to the dict `target`.
    /// - Throws: `PickleError` when `target` is not a dict, is inside another value or among `kv`.
    func setItems(_ target: PickleValue, _ kv: [(value: PickleValue, depth: Int)]) throws(PickleError) {
        guard case .dict(let d) = target else { throw fail("SETITEM(S) on a \(target.kind), not a dict") }
        guard kv.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
        guard !d.sealed else { throw fail("SETITEM(S) on a dict already inside another value (a cycle)") }
        for (v, _) in kv { if case .dict(let x) = v, x === d { throw fail("a dict stored in itself") } }
        d.depth = max(d.depth, try enclose(kv))
        var i = 0
        while i < kv.count { d.pairs.append((kv[i].value, kv[i + 1].value)); i += 2 }
    }

    /// Stores the top of the stack as memo entry `i`.
    /// - Throws: `PickleError` on an empty stack or a memo past `pickleMaxMemo`.
    mutating func memoPut(_ i: Int) throws(PickleError) {
        guard let top = stack.last, let d = depths.last else { throw fail("memo store with an empty stack") }
        guard memo[i] != nil || memo.count < pickleMaxMemo else { throw fail("memo grows past \(pickleMaxMemo) entries") }
        memo[i] = (top, d)
    }

    /// Pushes memo entry `i`.
    /// - Throws: `PickleError` when it was never stored.
    mutating func memoGet(_ i: Int) throws(PickleError) {
        guard let v = memo[i] else { throw fail("memo index \(i) was never stored") }
        try push(v.value, depth: v.depth)
    }

    /// A LONG1 operand: a length byte, then that many little-endian two's complement bytes.
    /// - Throws: `PickleError` "truncated".
    mutating func long1() throws(PickleError) -> PickleValue {
        let len = Int(try r.u8())
        if len > 8 { return .largeInt(Array(try r.take(len))) }
        var v: UInt64 = len == 0 ? 0 : try r.uint(len)
        if len > 0 && len < 8 && (v >> (8 * UInt64(len) - 1)) & 1 == 1 { v |= ~0 << (8 * UInt64(len)) }  // sign-extend
        return .int(Int(Int64(bitPattern: v)))
    }

    /// Runs one opcode; returns the value left by STOP, nil otherwise.
    ///
    /// The opcode switch is kept whole on purpose: one case per opcode, read against the
    /// pickle protocol's table (Lib/pickletools.py).
    /// - Throws: `PickleError` for a refused opcode or anything the opcode finds wrong.
    mutating func step() throws(PickleError) -> PickleValue? {
        opcodeAt = r.position
        guard !r.isAtEnd else { throw fail("ends without STOP") }
        let op = try r.u8()
        switch op {
        case 0x80: _ = try r.u8()                                    // PROTO
        case 0x95: _ = try r.u64()                                   // FRAME (length ignored: data is all here)
        case 0x2E:                                                   // STOP
            guard marks.isEmpty, stack.count == 1, let v = stack.last else {
                throw fail("STOP with \(stack.count) values on the stack")
            }
            return v
        case 0x28: marks.append(stack.count)                         // MARK
            guard marks.count <= pickleMaxStack else { throw fail("too many MARKs") }
        case 0x7D: try push(.dict(PickleDict()))                     // EMPTY_DICT
        case 0x5D: try push(.list(PickleList()))                     // EMPTY_LIST
        case 0x29: try push(.tuple([]), depth: 1)                    // EMPTY_TUPLE
        case 0x74: try pushTuple(try popMark())                      // TUPLE
        case 0x85: let a = try popEntry(); try pushTuple([a])        // TUPLE1
        case 0x86: let b = try popEntry(), a = try popEntry(); try pushTuple([a, b])   // TUPLE2
        case 0x87: let c = try popEntry(), b = try popEntry(), a = try popEntry(); try pushTuple([a, b, c])  // TUPLE3
        case 0x6C: let l = PickleList(); try append(l, try popMark()); try push(.list(l))          // LIST
        case 0x64: let d = PickleDict(); try setItems(.dict(d), try popMark()); try push(.dict(d))  // DICT
        case 0x4E: try push(.none)                                   // NONE
        case 0x88: try push(.bool(true))                             // NEWTRUE
        case 0x89: try push(.bool(false))                            // NEWFALSE
        case 0x4A: try push(.int(Int(try r.i32())))                  // BININT
        case 0x4B: try push(.int(Int(try r.u8())))                   // BININT1
        case 0x4D: try push(.int(Int(try r.u16())))                  // BININT2
        case 0x8A: try push(try long1())                             // LONG1
        case 0x47: try push(.float(Double(bitPattern: try r.u64().byteSwapped)))  // BINFLOAT (big-endian)
        case 0x58: try push(.string(try r.string(length: Int(try r.u32()))))     // BINUNICODE
        case 0x8C: try push(.string(try r.string(length: Int(try r.u8()))))      // SHORT_BINUNICODE
        case 0x8D:                                                               // BINUNICODE8
            let len = try r.u64()
            guard len <= UInt64(r.bytes.count) else { throw fail("string length \(len) is past the end") }
            try push(.string(try r.string(length: Int(len))))
        case 0x55: try push(.string(try r.string(length: Int(try r.u8()))))      // SHORT_BINSTRING
        case 0x63: let module = try line(), name = try line(); try push(try global(module, name))  // GLOBAL "module\nname\n"
        case 0x93:                                                               // STACK_GLOBAL
            let nameV = try pop(), moduleV = try pop()
            guard case .string(let name) = nameV, case .string(let module) = moduleV else { throw fail("STACK_GLOBAL needs two strings") }
            try push(try global(module, name))
        case 0x52: let args = try pop(), f = try pop(); try push(try call(f, args))  // REDUCE: a dict, a tensor: depth 1 at most
        case 0x51: try push(.storage(try persistentStorage(try pop())))          // BINPERSID
        case 0x71: try memoPut(Int(try r.u8()))                      // BINPUT
        case 0x72: try memoPut(Int(try r.u32()))                     // LONG_BINPUT
        case 0x94: try memoPut(memo.count)                           // MEMOIZE
        case 0x68: try memoGet(Int(try r.u8()))                      // BINGET
        case 0x6A: try memoGet(Int(try r.u32()))                     // LONG_BINGET
        case 0x73:                                                   // SETITEM
            let v = try popEntry(), k = try popEntry()
            guard let d = stack.last else { throw fail("SETITEM with no dict") }
            try setItems(d, [k, v])
        case 0x75:                                                   // SETITEMS
            let kv = try popMark()
            guard let d = stack.last else { throw fail("SETITEMS with no dict") }
            try setItems(d, kv)
        case 0x61:                                                   // APPEND
            let v = try popEntry()
            guard case .list(let l)? = stack.last else { throw fail("APPEND to a non-list") }
            try append(l, [v])
        case 0x65:                                                   // APPENDS
            let items = try popMark()
            guard case .list(let l)? = stack.last else { throw fail("APPENDS to a non-list") }
            try append(l, items)
        case 0x62:                                                   // BUILD
            // Only the state torch attaches to an OrderedDict (its `_metadata`), which is dropped.
            let state = try pop()
            guard case .dict? = stack.last, case .dict = state else {
                throw fail("BUILD on a \(stack.last?.kind ?? "nothing") with \(state.kind) state is not part of a plain state dict")
            }
        default:
            let name = pickleOpcodeNames[op].map { "\($0) (0x\(String(op, radix: 16)))" } ?? "0x\(String(op, radix: 16))"
            throw fail("refusing opcode \(name): not used by a plain state dict")
        }
        return nil
    }
}

/// Names of opcodes the reader refuses, for its error messages.
let pickleOpcodeNames: [UInt8: String] = [
    0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x50: "PERSID", 0x49: "INT",
    0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x54: "BINSTRING", 0x56: "UNICODE", 0x42: "BINBYTES",
    0x43: "SHORT_BINBYTES", 0x8E: "BINBYTES8", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER",
    0x98: "READONLY_BUFFER", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x32: "DUP", 0x30: "POP",
    0x31: "POP_MARK", 0x67: "GET", 0x70: "PUT", 0x8B: "LONG4", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS",
    0x91: "FROZENSET",
]
