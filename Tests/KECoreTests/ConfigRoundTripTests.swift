import Foundation
import XCTest
@testable import KECore

/// Every family's config.json reading and writing agree: a config generated from a
/// `ModelConfig` parses back to it, every key written is one the family's reader consults, and
/// every fixture config.json parses, writes and parses again to the same configuration.
final class ConfigRoundTripTests: XCTestCase {
    /// Configs of `a` that differ in every field its generated config.json carries. (The
    /// generated config does not carry pad_token_id, RoPE scaling or sliding windows: a model
    /// whose config differs from the family's defaults there keeps its original config.json.)
    func variants(_ a: Architecture) throws -> [ModelConfig] {
        var out: [ModelConfig] = []
        for (tied, act) in [(false, "silu"), (true, "gelu"), (false, "relu"), (true, "gelu_new")] {
            let text: String
            switch a {
            case .gpt2:
                text = #"{"model_type":"gpt2","n_embd":6,"n_head":2,"n_layer":3,"n_inner":10,"n_positions":5,"vocab_size":7,"activation_function":"\#(act)","layer_norm_epsilon":1e-6,"tie_word_embeddings":\#(tied)}"#
            case .gptNeoX:
                text = #"{"model_type":"gpt_neox","hidden_size":12,"num_attention_heads":2,"num_hidden_layers":2,"intermediate_size":10,"vocab_size":7,"rotary_pct":0.35,"hidden_act":"\#(act)","use_parallel_residual":\#(!tied),"attention_bias":\#(tied),"layer_norm_eps":1e-6,"tie_word_embeddings":\#(tied)}"#
            default:
                text = #"{"model_type":"\#(a.rawValue)","hidden_size":8,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":4,"num_hidden_layers":2,"intermediate_size":10,"vocab_size":7,"max_position_embeddings":64,"rope_theta":5000,"hidden_act":"\#(act)","attention_bias":\#(tied),"rms_norm_eps":1e-5,"tie_word_embeddings":\#(tied)}"#
            }
            var c = try ModelConfig(huggingFaceJSON: text)
            c.rawJSON = [:]
            out.append(c)
        }
        return out
    }

    /// Generated config.json → parse gives the same configuration, for every family.
    func testGeneratedConfigParsesBackForEveryFamily() throws {
        for a in Architecture.allCases {
            for c in try variants(a) {
                let json = try huggingFaceConfigJSON(for: c)
                var back = try ModelConfig(huggingFace: json)
                back.rawJSON = [:]
                XCTAssertEqual(back, c, "\(a)")
                XCTAssertEqual(json["model_type"]?.stringValue, a.rawValue)
                XCTAssertEqual(json["architectures"]?.arrayValue?.first?.stringValue, a.hfClassName)
            }
        }
    }

    /// Every key a family writes is one its reader consults (so none is written only to be ignored).
    func testEveryWrittenKeyIsRead() throws {
        for a in Architecture.allCases {
            let c = try variants(a)[0]
            let json = try huggingFaceConfigJSON(for: c)
            guard let raw = json.dictionary else { return XCTFail("not an object") }
            let log = ConfigKeyLog()
            let r = ConfigReader(raw: raw, file: nil, consulted: log)
            _ = try r.architecture().family.config.read(r)
            // model_type and architectures choose the family; dtype is the weights' type.
            let unread = Set(raw.keys).subtracting(log.keys).subtracting(["model_type", "architectures", "dtype"])
            // mlp_bias: written false for every RMSNorm family since the first config writer; only Llama reads it.
            XCTAssertEqual(unread.subtracting(["mlp_bias"]), [], "\(a)")
        }
    }

    /// A generated config.json holds exactly the keys the family declares as written (besides
    /// the class and model_type), and each family declares a key once.
    func testWrittenKeysAreTheDeclaredOnes() throws {
        for a in Architecture.allCases {
            let keys = a.family.config.keys
            XCTAssertEqual(Set(keys.map(\.name)).count, keys.count, "\(a): a key declared twice")
            for c in try variants(a) {
                let written = Set(generatedConfigKeys(c).keys).subtracting(["model_type", "architectures"])
                let declared = Set(keys.filter { $0.write(c) != nil }.map(\.name))
                XCTAssertEqual(written, declared, "\(a)")
            }
        }
    }

    /// Every fixture config.json: parse → write → parse is the identity.
    func testFixtureConfigsRoundTrip() throws {
        var root = checkpointFixtures.split(separator: "/", omittingEmptySubsequences: false)
        root.removeLast()  // "checkpoint"
        let fixtures = root.joined(separator: "/")
        let files = FileManager.default.enumerator(atPath: fixtures)?.compactMap { $0 as? String }
            .filter { $0.hasSuffix("config.json") && !$0.hasSuffix("_config.json") } ?? []
        var families: Set<Architecture> = []
        for name in files {
            let path = fixtures + "/" + name
            guard let c = try? ModelConfig.load(path: path) else { continue }  // a fixture that is refused on purpose
            families.insert(c.architecture)
            var back = try ModelConfig(huggingFace: try huggingFaceConfigJSON(for: c))
            XCTAssertEqual(back.rawJSON["dtype"]?.stringValue, "float32", name)
            back.rawJSON = c.rawJSON
            XCTAssertEqual(back, c, name)
        }
        XCTAssertEqual(Set(Architecture.allCases).subtracting(families), [], "families without a fixture config.json")
    }

    /// A GGUF architecture no family claims is refused with the list of those that are
    /// (gathered from the family entries) and, for a family llama.cpp writes under another name,
    /// its note.
    func testUnsupportedGGUFArchitectureNamesTheFamilies() throws {
        var g = ReliabilityFormatsTests.GGUFBuilder()
        g.addString("general.architecture", "mistral")
        let path = try makeTempDir(self) + "/m.gguf"
        try writeFileBytes(g.bytes(), to: path)
        assertNamedError(path, "GGUF architecture 'mistral' is not supported (supported: olmo, olmo2, llama, qwen2, qwen3, gemma, gptneox, gpt2; llama.cpp writes Mistral models as 'llama')") {
            _ = try Model.load(gguf: path)
        }
    }
}
