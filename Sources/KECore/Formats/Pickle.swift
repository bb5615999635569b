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

/// Storage classes a state dict may use, and their element types.
let pickleStorageTypes: [String: SafetensorsDType] = [
    "torch.FloatStorage": .f32, "torch.HalfStorage": .f16, "torch.BFloat16Storage": .bf16,
    "torch.DoubleStorage": .f64, "torch.LongStorage": .i64, "torch.IntStorage": .i32,
    "torch.ShortStorage": .i16, "torch.CharStorage": .i8, "torch.ByteStorage": .u8,
    "torch.BoolStorage": .bool,
]

/// Globals the reader resolves (everything else is refused).
let pickleAllowedGlobals: Set<String> = Set(pickleStorageTypes.keys).union([
    "collections.OrderedDict", "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
    "torch._utils._rebuild_parameter_with_state", "torch._tensor._rebuild_from_type_v2",
    "torch.Tensor", "torch.nn.parameter.Parameter",
])

/// How a pickle names its storages (see the header).
enum PicklePersistentIDs {
    /// ('storage', TYPE, KEY, LOCATION, NUMEL): torch ≥ 1.6 zip archives.
    case zip
    /// ('storage', TYPE, KEY, LOCATION, NUMEL, VIEW): the legacy stream; VIEW must be None.
    case legacy
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
/// - Throws: `CoreError` naming `file` for an unknown or refused opcode or global (by name), a
///   truncated or malformed program, a stack or memo past its cap, values nested more than
///   `pickleMaxDepth` deep ("nested too deeply"), a list or dict changed after it was placed
///   inside another value (a cycle, never in a state dict), or a call with arguments a state dict
///   never uses.
func readRestrictedPickle(_ bytes: UnsafeRawBufferPointer, from start: Int, file: String?,
                          persistentIDs: PicklePersistentIDs = .zip,
                          storageSeen: (PickleStorage) -> Void = { _ in }) throws -> (value: PickleValue, end: Int) {
    var pc = start
    var stack: [PickleValue] = []
    var depths: [Int] = []                  // depth of each stack entry (tuples; lists and dicts keep their own)
    var marks: [Int] = []
    var memo: [Int: (value: PickleValue, depth: Int)] = [:]
    let n = bytes.count

    func fail(_ msg: String) -> CoreError { CoreError("pickle: \(msg)", file: file) }
    func need(_ k: Int) throws {
        guard k >= 0, k <= n - pc else { throw fail("truncated at byte \(pc)") }
    }
    func readU(_ width: Int) throws -> UInt64 {
        try need(width)
        var v: UInt64 = 0
        for i in 0..<width { v |= UInt64(bytes[pc + i]) << (8 * UInt64(i)) }
        pc += width
        return v
    }
    func readString(_ len: Int) throws -> String {
        try need(len)
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pc..<(pc + len)]), as: UTF8.self)
        pc += len
        return s
    }
    func readLine() throws -> String {
        var e = pc
        while e < n && bytes[e] != 0x0A { e += 1 }
        guard e < n else { throw fail("truncated line at byte \(pc)") }
        let s = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[pc..<e]), as: UTF8.self)
        pc = e + 1
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
    /// and returns the depth of a container holding them, refusing one past the cap.
    func enclose(_ children: [(value: PickleValue, depth: Int)]) throws -> Int {
        var deepest = 0
        for (v, d) in children {
            switch v {
            case .list(let l): l.sealed = true
            case .dict(let dd): dd.sealed = true
            default: break
            }
            deepest = max(deepest, depthOf(v, d))
        }
        guard deepest < pickleMaxDepth else {
            throw fail("values nested too deeply (more than \(pickleMaxDepth) levels) at byte \(pc - 1)")
        }
        return deepest + 1
    }
    func push(_ v: PickleValue, depth: Int = 0) throws {
        guard stack.count < pickleMaxStack else { throw fail("stack grows past \(pickleMaxStack) entries") }
        stack.append(v)
        depths.append(depth)
    }
    func popEntry() throws -> (value: PickleValue, depth: Int) {
        guard let v = stack.popLast(), let d = depths.popLast() else { throw fail("stack underflow at byte \(pc - 1)") }
        if let m = marks.last, stack.count < m { throw fail("stack underflow past a MARK at byte \(pc - 1)") }
        return (v, d)
    }
    func pop() throws -> PickleValue { try popEntry().value }
    func popMark() throws -> [(value: PickleValue, depth: Int)] {
        guard let m = marks.popLast(), m <= stack.count else { throw fail("no MARK for the opcode at byte \(pc - 1)") }
        let items = (m..<stack.count).map { (stack[$0], depths[$0]) }
        stack.removeSubrange(m...)
        depths.removeSubrange(m...)
        return items
    }
    /// Pushes a tuple of `items`.
    func pushTuple(_ items: [(value: PickleValue, depth: Int)]) throws {
        let d = try enclose(items)
        try push(.tuple(items.map(\.value)), depth: d)
    }
    /// Adds `items` to the list `l` (refused once it is inside another value, or if it is among them).
    func append(_ l: PickleList, _ items: [(value: PickleValue, depth: Int)]) throws {
        guard !l.sealed else { throw fail("APPEND to a list already inside another value (a cycle) at byte \(pc - 1)") }
        for (v, _) in items { if case .list(let x) = v, x === l { throw fail("a list appended to itself at byte \(pc - 1)") } }
        l.depth = max(l.depth, try enclose(items))
        l.items.append(contentsOf: items.map(\.value))
    }
    func memoPut(_ i: Int) throws {
        guard let top = stack.last, let d = depths.last else { throw fail("memo store with an empty stack at byte \(pc - 1)") }
        guard memo[i] != nil || memo.count < pickleMaxMemo else { throw fail("memo grows past \(pickleMaxMemo) entries") }
        memo[i] = (top, d)
    }
    func memoGet(_ i: Int) throws {
        guard let v = memo[i] else { throw fail("memo index \(i) was never stored") }
        try push(v.value, depth: v.depth)
    }
    func global(_ module: String, _ name: String) throws -> PickleValue {
        let full = module + "." + name
        guard pickleAllowedGlobals.contains(full) else {
            throw fail("refusing global '\(full)': only the globals of a plain state dict are allowed")
        }
        return .global(full)
    }
    func setItems(_ target: PickleValue, _ kv: [(value: PickleValue, depth: Int)]) throws {
        guard case .dict(let d) = target else { throw fail("SETITEM(S) on a \(target.kind), not a dict") }
        guard kv.count % 2 == 0 else { throw fail("SETITEMS with an odd number of items") }
        guard !d.sealed else { throw fail("SETITEM(S) on a dict already inside another value (a cycle) at byte \(pc - 1)") }
        for (v, _) in kv { if case .dict(let x) = v, x === d { throw fail("a dict stored in itself at byte \(pc - 1)") } }
        d.depth = max(d.depth, try enclose(kv))
        var i = 0
        while i < kv.count { d.pairs.append((kv[i].value, kv[i + 1].value)); i += 2 }
    }
    func int(_ v: PickleValue, _ what: String) throws -> Int {
        guard case .int(let i) = v else { throw fail("\(what) is a \(v.kind), not an int") }
        return i
    }
    func ints(_ v: PickleValue, _ what: String) throws -> [Int] {
        guard case .tuple(let t) = v else { throw fail("\(what) is a \(v.kind), not a tuple") }
        guard t.count <= pickleMaxDims else { throw fail("\(what) has \(t.count) dimensions") }
        return try t.map { try int($0, what) }
    }
    func call(_ f: PickleValue, _ args: PickleValue) throws -> PickleValue {
        guard case .global(let g) = f else { throw fail("REDUCE calls a \(f.kind), not an allowed global") }
        guard case .tuple(let a) = args else { throw fail("REDUCE arguments are a \(args.kind), not a tuple") }
        switch g {
        case "collections.OrderedDict":
            guard a.isEmpty else { throw fail("collections.OrderedDict called with arguments") }
            return .dict(PickleDict())
        case "torch._utils._rebuild_tensor_v2":
            // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
            guard a.count == 6 || a.count == 7 else { throw fail("_rebuild_tensor_v2 takes 6 or 7 arguments, got \(a.count)") }
            guard case .storage(let s) = a[0] else { throw fail("_rebuild_tensor_v2 storage is a \(a[0].kind)") }
            let offset = try int(a[1], "tensor storage offset")
            let shape = try ints(a[2], "tensor size"), stride = try ints(a[3], "tensor stride")
            guard shape.count == stride.count else { throw fail("tensor size has \(shape.count) dimensions, stride \(stride.count)") }
            return .tensor(PickleTensor(storage: s, offset: offset, shape: shape, stride: stride))
        case "torch._utils._rebuild_parameter":
            // (data, requires_grad, backward_hooks)
            guard a.count == 3, case .tensor = a[0] else { throw fail("_rebuild_parameter expects (tensor, requires_grad, hooks)") }
            return a[0]
        case "torch._utils._rebuild_parameter_with_state":
            // (data, requires_grad, backward_hooks, state): the state is the parameter's Python
            // attributes (torch._utils._set_obj_state), which carry no weights.
            guard a.count == 4, case .tensor = a[0] else {
                throw fail("_rebuild_parameter_with_state expects (tensor, requires_grad, hooks, state)")
            }
            return a[0]
        case "torch._tensor._rebuild_from_type_v2":
            // (func, new_type, args, state): func(*args), as a new_type, with the attributes in
            // state. Only a plain tensor or parameter type; the state is dropped.
            guard a.count == 4 else { throw fail("_rebuild_from_type_v2 takes 4 arguments, got \(a.count)") }
            guard case .global(let type) = a[1], type == "torch.Tensor" || type == "torch.nn.parameter.Parameter" else {
                throw fail("_rebuild_from_type_v2 rebuilds a \(a[1].kind), not torch.Tensor or torch.nn.parameter.Parameter")
            }
            guard case .global(let inner) = a[0], inner == "torch._utils._rebuild_tensor_v2" || inner == "torch._utils._rebuild_parameter" else {
                throw fail("_rebuild_from_type_v2 calls \(a[0].kind), not a tensor rebuild function")
            }
            return try call(a[0], a[2])
        default:
            throw fail("'\(g)' cannot be called")
        }
    }

    while true {
        guard pc < n else { throw fail("ends without STOP") }
        let op = bytes[pc]
        pc += 1
        switch op {
        case 0x80: _ = try readU(1)                                  // PROTO
        case 0x95: _ = try readU(8)                                  // FRAME (length ignored: data is all here)
        case 0x2E:                                                   // STOP
            guard marks.isEmpty, stack.count == 1, let v = stack.last else {
                throw fail("STOP with \(stack.count) values on the stack")
            }
            return (v, pc)
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
        case 0x4A: try push(.int(Int(Int32(truncatingIfNeeded: try readU(4)))))  // BININT
        case 0x4B: try push(.int(Int(try readU(1))))                 // BININT1
        case 0x4D: try push(.int(Int(try readU(2))))                 // BININT2
        case 0x8A:                                                   // LONG1
            let len = Int(try readU(1))
            if len > 8 {
                try need(len)
                try push(.largeInt(Array(UnsafeRawBufferPointer(rebasing: bytes[pc..<(pc + len)]))))
                pc += len
                break
            }
            var v: UInt64 = len == 0 ? 0 : try readU(len)
            if len > 0 && len < 8 && (v >> (8 * UInt64(len) - 1)) & 1 == 1 { v |= ~0 << (8 * UInt64(len)) }  // sign-extend
            try push(.int(Int(Int64(bitPattern: v))))
        case 0x47:                                                   // BINFLOAT (big-endian)
            try need(8)
            var v: UInt64 = 0
            for i in 0..<8 { v = v << 8 | UInt64(bytes[pc + i]) }
            pc += 8
            try push(.float(Double(bitPattern: v)))
        case 0x58: try push(.string(try readString(Int(try readU(4)))))        // BINUNICODE
        case 0x8C: try push(.string(try readString(Int(try readU(1)))))        // SHORT_BINUNICODE
        case 0x8D:                                                             // BINUNICODE8
            let len = try readU(8)
            guard len <= UInt64(n) else { throw fail("string length \(len) is past the end") }
            try push(.string(try readString(Int(len))))
        case 0x55: try push(.string(try readString(Int(try readU(1)))))        // SHORT_BINSTRING
        case 0x63:                                                             // GLOBAL "module\nname\n"
            let module = try readLine(), name = try readLine()
            try push(try global(module, name))
        case 0x93:                                                             // STACK_GLOBAL
            let nameV = try pop(), moduleV = try pop()
            guard case .string(let name) = nameV, case .string(let module) = moduleV else {
                throw fail("STACK_GLOBAL needs two strings")
            }
            try push(try global(module, name))
        case 0x52:                                                             // REDUCE
            let args = try pop(), f = try pop()
            try push(try call(f, args))                              // a dict, a tensor: depth 1 at most
        case 0x51:                                                             // BINPERSID
            let pid = try pop()
            let items = persistentIDs == .zip ? 5 : 6
            let shape = persistentIDs == .zip ? "('storage', type, key, location, numel)"
                                              : "('storage', type, key, location, numel, view)"
            guard case .tuple(let t) = pid, t.count == items, case .string("storage") = t[0] else {
                throw fail("persistent id is not \(shape)")
            }
            guard case .global(let type) = t[1], let dtype = pickleStorageTypes[type] else {
                throw fail("persistent id names storage type \(t[1].kind), not a known storage class")
            }
            guard case .string(let key) = t[2] else { throw fail("storage key is a \(t[2].kind), not a string") }
            let numel = try int(t[4], "storage size")
            guard numel >= 0 else { throw fail("storage '\(key)' has negative size \(numel)") }
            if items == 6 {
                guard case .none = t[5] else {
                    throw fail("storage '\(key)' is a view of another storage (written by torch < 0.4), which ke does not read")
                }
            }
            let storage = PickleStorage(key: key, dtype: dtype, numel: numel)
            storageSeen(storage)
            try push(.storage(storage))
        case 0x71: try memoPut(Int(try readU(1)))                    // BINPUT
        case 0x72: try memoPut(Int(try readU(4)))                    // LONG_BINPUT
        case 0x94: try memoPut(memo.count)                           // MEMOIZE
        case 0x68: try memoGet(Int(try readU(1)))                    // BINGET
        case 0x6A: try memoGet(Int(try readU(4)))                    // LONG_BINGET
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
            throw fail("refusing opcode \(name) at byte \(pc - 1): not used by a plain state dict")
        }
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
