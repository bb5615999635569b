import XCTest
@testable import KECore

final class ConfigParserTests: XCTestCase {

    func parse(_ text: String) throws -> ModelConfig { try ModelConfig(huggingFaceJSON: text) }

    func expectError(_ text: String, _ fragment: String, file: StaticString = #filePath, line: UInt = #line) {
        assertCoreError(fragment, file: file, line: line) { _ = try parse(text) }
    }

    // MARK: OLMo

    /// allenai/OLMo-1B-0724-hf style (transformers 4.x keys: top-level rope_theta, rope_scaling null).
    let olmoLegacy = """
    {"architectures":["OlmoForCausalLM"],"attention_bias":false,"attention_dropout":0.0,"bos_token_id":null,
     "clip_qkv":null,"eos_token_id":50279,"hidden_act":"silu","hidden_size":2048,"initializer_range":0.02,
     "intermediate_size":8192,"max_position_embeddings":4096,"model_type":"olmo","num_attention_heads":16,
     "num_hidden_layers":16,"num_key_value_heads":16,"pad_token_id":1,"rope_scaling":null,"rope_theta":10000.0,
     "tie_word_embeddings":true,"torch_dtype":"float32","transformers_version":"4.40.0","use_cache":true,
     "vocab_size":50304}
    """

    func testOlmoLegacyKeys() throws {
        let c = try parse(olmoLegacy)
        XCTAssertEqual(c.architecture, .olmo)
        XCTAssertEqual(c.hiddenSize, 2048); XCTAssertEqual(c.intermediateSize, 8192)
        XCTAssertEqual(c.numLayers, 16); XCTAssertEqual(c.numHeads, 16); XCTAssertEqual(c.numKVHeads, 16)
        XCTAssertEqual(c.headDim, 128); XCTAssertEqual(c.rotaryDim, 128)
        XCTAssertEqual(c.norm, .nonParametricLayerNorm); XCTAssertEqual(c.normEps, 1e-5)
        XCTAssertEqual(c.activation, .silu); XCTAssertTrue(c.gatedMLP)
        XCTAssertEqual(c.ropeTheta, 10000); XCTAssertNil(c.clipQKV)
        XCTAssertTrue(c.tieWordEmbeddings); XCTAssertFalse(c.attentionBias); XCTAssertFalse(c.mlpBias)
        XCTAssertFalse(c.learnedPositions); XCTAssertFalse(c.parallelResidual)
        XCTAssertEqual(c.maxPositions, 4096); XCTAssertEqual(c.vocabSize, 50304)
        XCTAssertEqual(c.rawJSON["transformers_version"], .string("4.40.0"))
    }

    func testOlmoNewKeysClipAndDefaults() throws {
        // transformers 5 layout: rope_parameters; kv heads omitted (→ heads); model_type only.
        let c = try parse("""
        {"model_type":"olmo","hidden_size":64,"intermediate_size":96,"num_hidden_layers":2,"num_attention_heads":4,
         "rope_parameters":{"rope_theta":500000.0,"rope_type":"default"},"clip_qkv":8,"vocab_size":100}
        """)
        XCTAssertEqual(c.numKVHeads, 4); XCTAssertEqual(c.headDim, 16)
        XCTAssertEqual(c.ropeTheta, 500000); XCTAssertEqual(c.clipQKV, 8)
        XCTAssertFalse(c.tieWordEmbeddings)  // OlmoConfig default
        XCTAssertEqual(c.maxPositions, 2048)
    }

    func testRopeParametersWinOverTopLevelTheta() throws {
        let c = try parse("""
        {"model_type":"olmo","hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,
         "rope_theta":1234,"rope_parameters":{"rope_theta":99.0}}
        """)
        XCTAssertEqual(c.ropeTheta, 99)
        let d = try parse("""
        {"model_type":"olmo","hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,
         "rope_theta":1234,"rope_parameters":{"rope_type":"default"}}
        """)
        XCTAssertEqual(d.ropeTheta, 1234)
    }

    func testOlmoBadClip() {
        expectError("""
        {"model_type":"olmo","hidden_size":8,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2,"clip_qkv":-1}
        """, "\"clip_qkv\" must be positive")
    }

    // MARK: Llama

    func testLlamaWithGQAAndHeadDim() throws {
        let c = try parse("""
        {"architectures":["LlamaForCausalLM"],"hidden_size":64,"intermediate_size":128,"num_hidden_layers":3,
         "num_attention_heads":8,"num_key_value_heads":2,"head_dim":16,"rms_norm_eps":1e-05,"rope_theta":10000.0,
         "rope_scaling":null,"vocab_size":32000,"attention_bias":true,"mlp_bias":false,"tie_word_embeddings":true,
         "max_position_embeddings":4096,"hidden_act":"silu"}
        """)
        XCTAssertEqual(c.architecture, .llama)
        XCTAssertEqual(c.numKVHeads, 2); XCTAssertEqual(c.headDim, 16); XCTAssertEqual(c.rotaryDim, 16)
        XCTAssertEqual(c.norm, .rmsNorm); XCTAssertEqual(c.normEps, 1e-5)
        XCTAssertTrue(c.attentionBias); XCTAssertTrue(c.tieWordEmbeddings)
    }

    func testLlamaDefaults() throws {
        let c = try parse("""
        {"model_type":"llama","hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4}
        """)
        XCTAssertEqual(c.normEps, 1e-6); XCTAssertEqual(c.headDim, 8); XCTAssertEqual(c.numKVHeads, 4)
        XCTAssertFalse(c.tieWordEmbeddings); XCTAssertFalse(c.attentionBias)
        XCTAssertEqual(c.vocabSize, 32000); XCTAssertEqual(c.ropeTheta, 10000)
        XCTAssertEqual(c.activation, .silu)
    }

    func testLlamaRopeScaling() throws {
        let base = #""model_type":"llama","hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4"#
        XCTAssertEqual(try parse("{\(base),\"rope_scaling\":{\"type\":\"linear\",\"factor\":2.0}}").ropeScaling, .linear(factor: 2))
        XCTAssertEqual(try parse("{\(base),\"max_position_embeddings\":64,\"rope_parameters\":{\"rope_type\":\"dynamic\",\"factor\":3.0}}").ropeScaling,
                       .dynamic(factor: 3, originalMaxPositions: 64))
        XCTAssertEqual(try parse("{\(base),\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0,\"low_freq_factor\":1.0,\"high_freq_factor\":4.0,\"original_max_position_embeddings\":8192}}").ropeScaling,
                       .llama3(factor: 8, lowFrequencyFactor: 1, highFrequencyFactor: 4, originalMaxPositions: 8192))
        expectError("{\(base),\"rope_scaling\":{\"rope_type\":\"llama3\",\"factor\":8.0}}", "RoPE scaling \"llama3\" needs low_freq_factor")
        expectError("{\(base),\"rope_parameters\":{\"rope_type\":\"yarn\",\"rope_theta\":1.0}}", "RoPE scaling \"yarn\" is not supported; supported: default, linear, dynamic, llama3")
        expectError("{\(base),\"rope_parameters\":5}", "\"rope_parameters\" must be an object")
    }

    func testLlamaMlpBiasAddsGateUpDownBiases() throws {
        let c = try parse("""
        {"model_type":"llama","hidden_size":32,"intermediate_size":64,"num_hidden_layers":1,"num_attention_heads":4,"mlp_bias":true}
        """)
        let names = canonicalTensorShapes(for: c).map(\.name)
        XCTAssertTrue(names.contains("L0.gate.b") && names.contains("L0.up.b") && names.contains("L0.down.b"))
    }

    // MARK: GPT-NeoX

    /// EleutherAI/pythia-160m (transformers 4.x keys).
    let pythiaLegacy = """
    {"architectures":["GPTNeoXForCausalLM"],"bos_token_id":0,"eos_token_id":0,"hidden_act":"gelu",
     "hidden_size":768,"initializer_range":0.02,"intermediate_size":3072,"layer_norm_eps":1e-05,
     "max_position_embeddings":2048,"model_type":"gpt_neox","num_attention_heads":12,"num_hidden_layers":12,
     "rotary_emb_base":10000,"rotary_pct":0.25,"tie_word_embeddings":false,"torch_dtype":"float16",
     "transformers_version":"4.24.0","use_cache":true,"use_parallel_residual":true,"vocab_size":50304}
    """

    func testNeoXLegacyKeys() throws {
        let c = try parse(pythiaLegacy)
        XCTAssertEqual(c.architecture, .gptNeoX)
        XCTAssertEqual(c.headDim, 64); XCTAssertEqual(c.rotaryDim, 16); XCTAssertEqual(c.ropeTheta, 10000)
        XCTAssertEqual(c.activation, .gelu); XCTAssertEqual(c.norm, .layerNorm(bias: true))
        XCTAssertTrue(c.parallelResidual); XCTAssertFalse(c.tieWordEmbeddings)
        XCTAssertTrue(c.attentionBias); XCTAssertTrue(c.mlpBias); XCTAssertFalse(c.gatedMLP)
        XCTAssertEqual(c.intermediateSize, 3072)
    }

    func testNeoXNewKeysAndDefaults() throws {
        let c = try parse("""
        {"model_type":"gpt_neox","hidden_size":64,"intermediate_size":256,"num_hidden_layers":2,"num_attention_heads":4,
         "rope_parameters":{"partial_rotary_factor":0.5,"rope_theta":500.0,"rope_type":"default"},
         "rotary_pct":0.25,"rotary_emb_base":7,"attention_bias":false,"use_parallel_residual":false}
        """)
        XCTAssertEqual(c.rotaryDim, 8)  // rope_parameters wins over the legacy keys
        XCTAssertEqual(c.ropeTheta, 500)
        XCTAssertFalse(c.attentionBias); XCTAssertFalse(c.parallelResidual)
        let d = try parse("""
        {"model_type":"gpt_neox","hidden_size":64,"intermediate_size":256,"num_hidden_layers":2,"num_attention_heads":4}
        """)
        XCTAssertEqual(d.rotaryDim, 4)  // default partial factor 0.25 of head_dim 16
        XCTAssertEqual(d.ropeTheta, 10000)
        XCTAssertEqual(d.normEps, 1e-5)
        XCTAssertTrue(d.parallelResidual)
    }

    func testNeoXTruncatesRotaryDimLikePython() throws {
        // head_dim 24 × 0.3 = 7.2 → int() = 7 is odd → refused; 0.34 → 8.16 → 8.
        let base = #""model_type":"gpt_neox","hidden_size":48,"intermediate_size":8,"num_hidden_layers":1,"num_attention_heads":2"#
        XCTAssertEqual(try parse("{\(base),\"rotary_pct\":0.34}").rotaryDim, 8)
        expectError("{\(base),\"rotary_pct\":0.3}", "rotary dimension 7")
        expectError("{\(base),\"rotary_pct\":1.5}", "between 0 and 1")
    }

    // MARK: GPT-2

    /// openai-community/gpt2.
    let gpt2Config = """
    {"activation_function":"gelu_new","architectures":["GPT2LMHeadModel"],"attn_pdrop":0.1,"bos_token_id":50256,
     "embd_pdrop":0.1,"eos_token_id":50256,"initializer_range":0.02,"layer_norm_epsilon":1e-05,"model_type":"gpt2",
     "n_ctx":1024,"n_embd":768,"n_head":12,"n_layer":12,"n_positions":1024,"resid_pdrop":0.1,
     "summary_activation":null,"summary_first_dropout":0.1,"summary_proj_to_labels":true,
     "summary_type":"cls_index","summary_use_proj":true,"task_specific_params":{"text-generation":{"do_sample":true,
     "max_length":50}},"vocab_size":50257}
    """

    func testGPT2() throws {
        let c = try parse(gpt2Config)
        XCTAssertEqual(c.architecture, .gpt2)
        XCTAssertEqual(c.hiddenSize, 768); XCTAssertEqual(c.intermediateSize, 3072)  // n_inner absent → 4·n_embd
        XCTAssertEqual(c.numLayers, 12); XCTAssertEqual(c.numHeads, 12); XCTAssertEqual(c.headDim, 64)
        XCTAssertEqual(c.maxPositions, 1024); XCTAssertEqual(c.activation, .geluTanh)
        XCTAssertTrue(c.learnedPositions); XCTAssertEqual(c.rotaryDim, 0)
        XCTAssertTrue(c.tieWordEmbeddings); XCTAssertEqual(c.norm, .layerNorm(bias: true))
        XCTAssertTrue(c.attentionBias); XCTAssertTrue(c.mlpBias)
    }

    func testGPT2NInnerNullAndExplicit() throws {
        XCTAssertEqual(try parse(#"{"model_type":"gpt2","n_embd":16,"n_head":2,"n_inner":null}"#).intermediateSize, 64)
        XCTAssertEqual(try parse(#"{"model_type":"gpt2","n_embd":16,"n_head":2,"n_inner":40}"#).intermediateSize, 40)
    }

    func testGPT2Options() throws {
        XCTAssertTrue(try parse(#"{"model_type":"gpt2","scale_attn_by_inverse_layer_idx":true}"#).scaleAttentionByInverseLayerIndex)
        // Same mathematics in float32: accepted, nothing changes.
        XCTAssertEqual(try parse(#"{"model_type":"gpt2","reorder_and_upcast_attn":true}"#).hiddenSize, 768)
        expectError(#"{"model_type":"gpt2","add_cross_attention":true}"#, "\"add_cross_attention\": true is not supported")
        expectError(#"{"model_type":"gpt2","scale_attn_weights":false}"#, "\"scale_attn_weights\": false is not supported")
    }

    /// GPT2Config's attribute_map: the generic key names are read as n_embd, n_head, n_layer, n_positions.
    func testGPT2GenericKeyNames() throws {
        let c = try parse(#"{"model_type":"gpt2","hidden_size":16,"num_attention_heads":2,"num_hidden_layers":3,"max_position_embeddings":40}"#)
        XCTAssertEqual(c.hiddenSize, 16); XCTAssertEqual(c.numHeads, 2); XCTAssertEqual(c.numLayers, 3); XCTAssertEqual(c.maxPositions, 40)
        XCTAssertEqual(try parse(#"{"model_type":"gpt2","n_embd":32,"hidden_size":16,"n_head":2}"#).hiddenSize, 32)
    }

    // MARK: Newer Llama-style families

    func testFamilyDefaults() throws {
        let base = #""hidden_size":32,"num_attention_heads":4,"num_hidden_layers":2,"intermediate_size":64"#
        let q2 = try parse("{\"model_type\":\"qwen2\",\(base)}")
        XCTAssertTrue(q2.attentionBias); XCTAssertFalse(q2.outputProjectionBias); XCTAssertEqual(q2.slidingWindows, [])
        XCTAssertEqual(try parse("{\"model_type\":\"qwen2\",\(base),\"use_sliding_window\":true,\"sliding_window\":4,\"max_window_layers\":1}").slidingWindows, [nil, 4])
        let q3 = try parse("{\"model_type\":\"qwen3\",\(base)}")
        XCTAssertEqual(q3.headDim, 128); XCTAssertEqual(q3.qkNorm, .perHead); XCTAssertFalse(q3.attentionBias)
        XCTAssertEqual(try parse(#"{"model_type":"mistral","hidden_size":64,"num_attention_heads":16,"num_hidden_layers":2,"intermediate_size":64}"#).numKVHeads, 8)
        let m = try parse("{\"model_type\":\"mistral\",\(base),\"num_key_value_heads\":2}")
        XCTAssertEqual(m.numKVHeads, 2); XCTAssertEqual(m.slidingWindows, [4096, 4096])
        XCTAssertEqual(try parse("{\"model_type\":\"mistral\",\(base),\"num_key_value_heads\":2,\"sliding_window\":null}").slidingWindows, [])
        let g = try parse("{\"model_type\":\"gemma\",\(base),\"hidden_act\":\"gelu\"}")
        XCTAssertEqual(g.activation, .geluTanh); XCTAssertTrue(g.tieWordEmbeddings); XCTAssertEqual(g.headDim, 256)
        XCTAssertEqual(g.normWeightOffset, 1); XCTAssertEqual(g.embeddingScale, Float(Double(32).squareRoot())); XCTAssertEqual(g.paddingIndex, 0)
        let o2 = try parse("{\"model_type\":\"olmo2\",\(base)}")
        XCTAssertEqual(o2.normPlacement, .afterSublayer); XCTAssertEqual(o2.qkNorm, .fullProjection)
        XCTAssertEqual(o2.normEps, 1e-5); XCTAssertEqual(o2.paddingIndex, 1)
        XCTAssertEqual(try parse("{\"model_type\":\"olmo2\",\(base),\"pad_token_id\":null}").paddingIndex, nil)
        let o3 = try parse("{\"model_type\":\"olmo3\",\"hidden_size\":32,\"num_attention_heads\":4,\"num_hidden_layers\":4,\"intermediate_size\":64,\"sliding_window\":3}")
        XCTAssertEqual(o3.slidingWindows, [3, 3, 3, nil])
        expectError("{\"model_type\":\"olmo3\",\(base),\"layer_types\":[\"full_attention\"]}", "\"layer_types\" must list one attention type for each of the 2 layers")
        expectError("{\"model_type\":\"olmo3\",\(base),\"layer_types\":[\"full_attention\",\"chunked_attention\"]}", "is not supported; supported: sliding_attention, full_attention")
        // Llama without the keys it can default: transformers' LlamaConfig defaults.
        XCTAssertEqual(try parse(#"{"model_type":"llama","hidden_size":32,"num_attention_heads":4,"num_hidden_layers":1}"#).intermediateSize, 11008)
        XCTAssertNil(try parse("{\"model_type\":\"llama\",\(base)}").paddingIndex)
        XCTAssertEqual(try parse("{\"model_type\":\"llama\",\(base),\"pad_token_id\":5}").paddingIndex, 5)
        // nn.Embedding's padding_idx rules: negative counts from the end, outside is an error.
        XCTAssertEqual(try parse("{\"model_type\":\"llama\",\(base),\"vocab_size\":100,\"pad_token_id\":-1}").paddingIndex, 99)
        expectError("{\"model_type\":\"llama\",\(base),\"vocab_size\":100,\"pad_token_id\":100}", "\"pad_token_id\" 100 is outside the embedding's 100 rows")
        // layer_types is checked even where it selects nothing.
        expectError("{\"model_type\":\"qwen3\",\(base),\"layer_types\":[\"full_attention\"]}", "\"layer_types\" must list one attention type for each of the 2 layers")
        expectError("{\"model_type\":\"llama\",\(base),\"layer_types\":\"full_attention\"}", "\"layer_types\" must list one attention type")
    }

    // MARK: Activations

    func testActivationNamesAsACT2FN() throws {
        let expect: [(String, Activation)] = [("gelu", .gelu), ("gelu_new", .geluTanh), ("gelu_pytorch_tanh", .geluTanh),
                                             ("gelu_fast", .geluTanh), ("silu", .silu), ("swish", .silu), ("relu", .relu)]
        for (name, act) in expect {
            XCTAssertEqual(try parse(#"{"model_type":"gpt2","n_embd":16,"n_head":2,"activation_function":"\#(name)"}"#).activation, act, name)
        }
        expectError(#"{"model_type":"gpt2","activation_function":"quick_gelu"}"#, "unsupported activation \"quick_gelu\"")
    }

    // MARK: Architecture detection and bad values

    func testUnknownArchitectureListsSupported() {
        expectError(#"{"architectures":["BertForMaskedLM"]}"#,
                    "unsupported architecture BertForMaskedLM; supported: OlmoForCausalLM, Olmo2ForCausalLM, Olmo3ForCausalLM, LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, GemmaForCausalLM, GPTNeoXForCausalLM, GPT2LMHeadModel")
        expectError(#"{"model_type":"bert"}"#, "unsupported model_type \"bert\"")
        expectError(#"{"hidden_size":8}"#, "neither \"architectures\" nor \"model_type\"")
        expectError(#"{"architectures":[]}"#, "\"architectures\" must be a non-empty list")
        expectError("[1]", "config is not a JSON object")
        expectError("{", "config is not valid JSON")
    }

    /// transformers' Auto classes pick the class by `model_type`; `architectures` is only a
    /// fallback (base-model saves name `LlamaModel`, `GPT2Model`).
    func testModelTypeChoosesTheClass() throws {
        XCTAssertEqual(try parse(#"{"architectures":["GPT2LMHeadModel"],"model_type":"llama","hidden_size":16,"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":8}"#).architecture, .llama)
        XCTAssertEqual(try parse(#"{"architectures":["LlamaModel"],"hidden_size":16,"num_attention_heads":2,"num_hidden_layers":1,"intermediate_size":8}"#).architecture, .llama)
        XCTAssertEqual(try parse(#"{"architectures":["GPT2Model"],"n_embd":16,"n_head":2}"#).architecture, .gpt2)
    }

    func testImpossibleValues() {
        let llama = #""model_type":"llama","intermediate_size":64,"num_hidden_layers":1"#
        expectError("{\(llama),\"hidden_size\":30,\"num_attention_heads\":4}", "hidden_size 30 is not divisible by num_attention_heads 4")
        expectError("{\(llama),\"hidden_size\":32,\"num_attention_heads\":4,\"num_key_value_heads\":3}", "num_key_value_heads 3 does not divide num_attention_heads 4")
        expectError("{\(llama),\"hidden_size\":0,\"num_attention_heads\":4}", "\"hidden_size\" must be positive, found 0")
        expectError("{\(llama),\"hidden_size\":32,\"num_attention_heads\":-4}", "\"num_attention_heads\" must be positive")
        expectError("{\(llama),\"hidden_size\":32.5,\"num_attention_heads\":4}", "\"hidden_size\" must be an integer, found 32.5")
        expectError("{\(llama),\"hidden_size\":\"32\",\"num_attention_heads\":4}", "\"hidden_size\" must be an integer")
        expectError("{\(llama),\"hidden_size\":32,\"num_attention_heads\":4,\"vocab_size\":0}", "vocab_size must be positive")
        expectError("{\(llama),\"hidden_size\":32,\"num_attention_heads\":4,\"tie_word_embeddings\":1}", "\"tie_word_embeddings\" must be true or false")
        expectError("{\(llama),\"hidden_size\":32,\"num_attention_heads\":4,\"rms_norm_eps\":-1}", "norm epsilon must be positive")
        expectError("{\(llama),\"hidden_size\":32,\"num_attention_heads\":4,\"vocab_size\":1e300}", "\"vocab_size\" must be an integer")
        expectError("{\(llama),\"hidden_size\":2147483648,\"num_attention_heads\":1}", "absurdly large")
        expectError(#"{"model_type":"gpt2","n_embd":10,"n_head":3}"#, "n_embd 10 is not divisible by n_head 3")
        expectError(#"{"model_type":"gpt2","n_layer":0}"#, "number of layers must be positive")
    }

    func testIntegralFloatAcceptedAsInt() throws {
        XCTAssertEqual(try parse(#"{"model_type":"gpt2","n_embd":16.0,"n_head":2}"#).hiddenSize, 16)
    }
}
