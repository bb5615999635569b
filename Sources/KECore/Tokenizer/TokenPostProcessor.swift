// MARK: Post-processors
//
// The `post_processor` of tokenizer.json, applied when special tokens are wanted (HF
// `encode(text, add_special_tokens=True)`, transformers' default). ke encodes one sequence at a
// time, so only the single-sequence template matters; offsets and type ids are not kept, so
// `ByteLevel` (which only trims offsets) leaves the ids unchanged.

/// A post-processor from tokenizer.json.
indirect enum TokenPostProcessor {
    /// `TemplateProcessing`: the `single` template, each piece the sequence or a special token's ids.
    case template([TemplatePiece])
    /// `BertProcessing` / `RobertaProcessing`: `cls` + ids + `sep`.
    case wrap(cls: Int, sep: Int)
    /// `ByteLevel`: trims offsets only; the ids stay as they are.
    case byteLevel
    case sequence([TokenPostProcessor])

    enum TemplatePiece {
        case sequence
        case special([Int])
    }

    /// Reads a `post_processor` object; nil for JSON null.
    /// - Throws: `CoreError` for an unknown type or a malformed field.
    static func parse(_ j: JSONValue, file: String?) throws -> TokenPostProcessor? {
        if j.isNull { return nil }
        guard let type = j["type"]?.stringValue else {
            throw CoreError("tokenizer post_processor has no \"type\"", file: file)
        }
        switch type {
        case "ByteLevel": return .byteLevel
        case "BertProcessing", "RobertaProcessing":
            func pair(_ key: String) throws -> Int {
                guard let a = j[key]?.arrayValue, a.count == 2, a[0].stringValue != nil,
                      let id = a[1].intValue, id >= 0, id < maxTokenID else {
                    throw CoreError("tokenizer \(type) post_processor needs \"\(key)\": [\"TOKEN\", ID]", file: file)
                }
                return id
            }
            return .wrap(cls: try pair("cls"), sep: try pair("sep"))
        case "TemplateProcessing":
            guard let single = j["single"]?.arrayValue else {
                throw CoreError("tokenizer TemplateProcessing post_processor has no \"single\" template list", file: file)
            }
            let specials = j["special_tokens"]?.objectValue ?? []
            var pieces: [TemplatePiece] = []
            for p in single {
                if let s = p["Sequence"] {
                    guard s["id"]?.stringValue == "A" else {
                        throw CoreError("tokenizer TemplateProcessing \"single\" template may only use sequence A", file: file)
                    }
                    pieces.append(.sequence)
                } else if let name = p["SpecialToken"]?["id"]?.stringValue {
                    guard let spec = specials.first(where: { $0.0 == name })?.1 else {
                        throw CoreError("tokenizer TemplateProcessing uses special token \(TextPattern.jsonQuoted(name)), missing from \"special_tokens\"", file: file)
                    }
                    guard let list = spec["ids"]?.arrayValue else {
                        throw CoreError("tokenizer TemplateProcessing special token \(TextPattern.jsonQuoted(name)) has no \"ids\" list", file: file)
                    }
                    var ids: [Int] = []
                    for v in list {
                        guard let id = v.intValue, id >= 0, id < maxTokenID else {
                            throw CoreError("tokenizer TemplateProcessing special token \(TextPattern.jsonQuoted(name)) has an id out of range", file: file)
                        }
                        ids.append(id)
                    }
                    pieces.append(.special(ids))
                } else {
                    throw CoreError("tokenizer TemplateProcessing template piece is neither {\"Sequence\": …} nor {\"SpecialToken\": …}", file: file)
                }
            }
            return .template(pieces)
        case "Sequence":
            guard let items = j["processors"]?.arrayValue else {
                throw CoreError("tokenizer Sequence post_processor has no \"processors\" list", file: file)
            }
            return .sequence(try items.compactMap { try parse($0, file: file) })
        default:
            throw CoreError("unsupported tokenizer post_processor \"\(type)\"", file: file)
        }
    }

    /// `ids` with the special tokens added.
    func apply(_ ids: [Int]) -> [Int] {
        switch self {
        case .byteLevel: return ids
        case .wrap(let cls, let sep): return [cls] + ids + [sep]
        case .template(let pieces):
            var out: [Int] = []
            out.reserveCapacity(ids.count + pieces.count)
            for p in pieces {
                switch p {
                case .sequence: out.append(contentsOf: ids)
                case .special(let s): out.append(contentsOf: s)
                }
            }
            return out
        case .sequence(let items):
            var cur = ids
            for p in items { cur = p.apply(cur) }
            return cur
        }
    }

    /// How many ids `apply` adds (HF `added_tokens(is_pair: false)`).
    var addedCount: Int { apply([]).count }
}
