import XCTest
@testable import KECore

/// Loss, gradients, 3 AdamW steps and probes against what Hugging Face transformers computed for
/// the fixture checkpoints (see Tests/Fixtures/README.md, "Training oracle" and "Probes").
final class GradientParityTests: XCTestCase {

    /// HF-named arrays `<key>.<hf name>` of `arrays`, converted to the canonical layout.
    func canonical(_ key: String, _ model: Model, _ arrays: SafetensorsFile) throws -> ParameterStore {
        let c = model.config
        let names = Set(arrays.names.filter { $0.hasPrefix(key + ".") }.map { String($0.dropFirst(key.count + 1)) })
        let prefix = hfPrefixes(c.architecture).first { names.contains($0 + hfEmbeddingName(c.architecture)) } ?? ""
        let head = c.architecture == .gptNeoX && names.contains("lm_head.weight") ? "lm_head.weight" : nil
        var store = ParameterStore(zerosLike: model.f32Parameters())
        let specs = huggingFaceTensorSpecs(for: c, prefix: prefix, headName: head)
        XCTAssertEqual(Set(specs.map(\.name)), names, "\(key): HF tensor names")
        for s in specs {
            let hf = try arrays.floats("\(key).\(s.name)")
            XCTAssertEqual(hf.count, s.shape.reduce(1, *), s.name)
            let slots = s.role.canonicalNames.compactMap { model.f32Parameters().slot($0) }
            hf.withUnsafeBufferPointer { src in
                store.data.withUnsafeMutableBufferPointer { dst in
                    scatterHF(s, src.baseAddress!, into: dst.baseAddress!, slots: slots, config: c)
                }
            }
        }
        return store
    }

    func testLossGradientsAndAdamWMatchTransformers() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let arrays = try Fixtures.arrays(name)
            let docs = Fixtures.docs(exp)
            let train = try XCTUnwrap(exp["train"])
            let batch = PackedBatch(documents: docs)
            XCTAssertEqual(predictionCount(batch), train["predictions"]?.intValue)

            // Loss and gradients.
            var g = [Float](repeating: 0, count: model.f32Parameters().count)
            let loss = try g.withUnsafeMutableBufferPointer {
                try lossAndGradients(Transformer(model), batch: batch, grads: $0.baseAddress!)
            }
            let wantLoss = try XCTUnwrap(train["loss"]?.doubleValue)
            // HF's loss is a float32 scalar (ulp 4.8e-7 at 6.7) over float32 logits: measured ≤ 5.5e-7; 1e-5
            XCTAssertEqual(loss, wantLoss, accuracy: 1e-5, "\(name) loss")
            let want = try canonical("grad", model, arrays)
            var worst = 0.0
            for s in model.f32Parameters().slots {
                let a = g[s.offset..<(s.offset + s.count)], b = want.data[s.offset..<(s.offset + s.count)]
                let norm = sqrt(b.reduce(0.0) { $0 + Double($1) * Double($1) })
                let diff = sqrt(zip(a, b).reduce(0.0) { $0 + Double($1.0 - $1.1) * Double($1.0 - $1.1) })
                let rel = diff / max(norm, 1e-12)
                // Absolute floor for tensors whose true gradient is 0 (key biases): both sides are noise.
                XCTAssertTrue(rel < 1e-4 || diff < 1e-7, "\(name) grad \(s.name): ‖Δ‖ \(diff), ‖g‖ \(norm)")
                if norm > 1e-6 { worst = max(worst, rel) }
            }

            // 3 AdamW steps (lr 1e-3, constant, same batch, clip 1.0, wd 0.1 on dim ≥ 2).
            var state = TrainerState(net: Transformer(model), options: AdamWOptions())
            var losses: [Double] = []
            for s in 0..<3 { losses.append(try state.step(documents: docs, lr: 1e-3, number: s + 1).loss) }
            let wantLosses = train["losses"]?.doubles ?? []
            XCTAssertEqual(wantLosses.count, 3)
            // Three AdamW steps later, both sides still float32: measured ≤ 1.3e-6 on losses ≈ 6; 1e-5
            for (a, b) in zip(losses, wantLosses) { XCTAssertEqual(a, b, accuracy: 1e-5, "\(name) losses") }
            let after = try canonical("adamw3", model, arrays)
            // Elements whose gradient is at float-noise level (≲ 1e-6; e.g. the key biases, whose
            // true gradient is exactly 0 because softmax ignores a per-row shift) get an Adam step of
            // arbitrary sign in both implementations (ε = 1e-8 is of their size), so for them only
            // the size of a step is checked.
            var d = 0.0, noisy = 0
            for i in 0..<model.f32Parameters().count {
                let delta = Double(abs(state.net.params.data[i] - after.data[i]))
                let ga = abs(g[i]), gb = abs(want.data[i])
                if (ga == 0 && gb == 0) || max(ga, gb) > 1e-6 { d = max(d, delta) } else {
                    noisy += 1
                    XCTAssertLessThan(delta, 4e-3, "\(name) element \(i) with a noise-level gradient")
                }
            }
            XCTAssertLessThan(d, 1e-5, "\(name) parameters after 3 AdamW steps")
            print("parity \(name): loss Δ \(abs(loss - wantLoss)), worst grad ‖Δ‖/‖g‖ \(worst), AdamW-3 max |Δ| \(d) (\(noisy) noise-level elements)")
        }
    }

    func testProbesMatchTransformers() throws {
        let facts = try FactSet.load(path: Fixtures.root + "/facts.json")
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let exp = try Fixtures.expected(name)
            let recorded = exp["probes"]?.arrayValue ?? []
            // Recorded order: per item, its mem probes then its gen probes.
            var mine: [(kind: String, probe: Probe)] = []
            for item in facts.items {
                mine += item.memorization.map { ("mem", $0) } + item.generalization.map { ("gen", $0) }
            }
            XCTAssertEqual(recorded.count, mine.count, name)
            let tok = try mine.map { try tokenizeProbe($0.probe, encode: model.tokenizer.encode, name: name) }
            let scores = try scoreProbes(Transformer(model), tok)
            var sums: [String: (lp: Double, acc: Double, n: Int)] = [:]
            for (i, r) in recorded.enumerated() where i < mine.count {
                XCTAssertEqual(r["kind"]?.stringValue, mine[i].kind)
                XCTAssertEqual(r["input"]?.stringValue, mine[i].probe.input)
                XCTAssertEqual((r["ids"]?.arrayValue ?? []).compactMap(\.intValue), tok[i].tokens, "\(name) probe \(i) ids")
                XCTAssertEqual(r["n_input"]?.intValue, tok[i].targetStart)
                let lp = try XCTUnwrap(r["mean_logprob"]?.doubleValue), acc = try XCTUnwrap(r["accuracy"]?.doubleValue)
                // Mean log-probability (≈ −7) from float32 logits within ~5e-6 of HF's, float32 Σexp: measured ≤ 1e-6; 1e-4
                XCTAssertEqual(scores[i].logprob, lp, accuracy: 1e-4, "\(name) probe \(i) logprob")
                // Both sides are hits / n for the same small n: equal up to the last ulp.
                XCTAssertEqual(scores[i].accuracy, acc, accuracy: 1e-9, "\(name) probe \(i) accuracy")
                let s = sums[mine[i].kind] ?? (0, 0, 0)
                sums[mine[i].kind] = (s.lp + lp, s.acc + acc, s.n + 1)
            }
            // The public entry point aggregates the same numbers.
            let result = try probe(model, on: facts)
            let mem = try XCTUnwrap(sums["mem"]), gen = try XCTUnwrap(sums["gen"])
            // Mean of the per-probe log-probabilities held to 1e-4 just above: same bound
            XCTAssertEqual(result.memorization.logprob, mem.lp / Double(mem.n), accuracy: 1e-4)
            // Both sides are means of hits / n in Double: equal to a few ulps
            XCTAssertEqual(result.generalization.accuracy, gen.acc / Double(gen.n), accuracy: 1e-9)
            XCTAssertEqual(result.memorization.count, mem.n)
            XCTAssertNil(result.composition)
        }
    }
}
