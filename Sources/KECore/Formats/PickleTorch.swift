// MARK: The torch side of the restricted pickle reader
//
// What `torch.load(weights_only=True)` accepts from a plain state dict, and nothing more: the
// allowed globals, the storages a persistent id names, and the calls REDUCE may make (the list
// is in Pickle.swift's header). The machine itself (opcodes, stack, memo) is in Pickle.swift.

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

extension PickleMachine {
    /// The allow-listed global `module.name`.
    /// - Throws: `PickleError` "refusing global" for any other.
    func global(_ module: String, _ name: String) throws(PickleError) -> PickleValue {
        let full = module + "." + name
        guard pickleAllowedGlobals.contains(full) else {
            throw fail("refusing global '\(full)': only the globals of a plain state dict are allowed")
        }
        return .global(full)
    }

    /// `v` as an int.
    /// - Throws: `PickleError` naming `what` when it is not one.
    func int(_ v: PickleValue, _ what: String) throws(PickleError) -> Int {
        guard case .int(let i) = v else { throw fail("\(what) is a \(v.kind), not an int") }
        return i
    }

    /// `v` as a tuple of at most `pickleMaxDims` ints (a size or a stride).
    /// - Throws: `PickleError` naming `what` when it is not one.
    func ints(_ v: PickleValue, _ what: String) throws(PickleError) -> [Int] {
        guard case .tuple(let t) = v else { throw fail("\(what) is a \(v.kind), not a tuple") }
        guard t.count <= pickleMaxDims else { throw fail("\(what) has \(t.count) dimensions") }
        return try t.map { x throws(PickleError) in try int(x, what) }
    }

    /// The storage a persistent id names (its shape as `persistentIDs` says); `storageSeen` is told.
    /// - Throws: `PickleError` for another shape, an unknown storage class, or a storage view.
    func persistentStorage(_ pid: PickleValue) throws(PickleError) -> PickleStorage {
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
        return storage
    }

    /// REDUCE: the allow-listed global `f` called with the tuple `args`.
    /// - Throws: `PickleError` for a call that is not an allowed one with a state dict's arguments.
    func call(_ f: PickleValue, _ args: PickleValue) throws(PickleError) -> PickleValue {
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
}
