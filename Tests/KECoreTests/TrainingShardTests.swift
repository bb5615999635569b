import XCTest
@testable import KECore

/// Training batches split into two shards computed side by side (`shardedLossAndGradients`).
final class TrainingShardTests: XCTestCase {

    func testShardsCoverTheBatchAndBalanceTokens() {
        let docs = [[1, 2, 3, 4, 5, 6], [1, 2], [3, 4, 5], [6, 7, 8, 9], [1]]
        let shards = trainingShards(docs, parameters: 1000)
        XCTAssertEqual(shards.count, 2)
        XCTAssertEqual(shards.flatMap { $0 }, docs)
        // 19 tokens: the best cut is after the second document (8 | 11).
        XCTAssertEqual(shards[0].count, 2)
        XCTAssertEqual(trainingShards([[1, 2, 3]], parameters: 1000).count, 1)
        XCTAssertEqual(trainingShards(docs, parameters: (1 << 28) + 1).count, 1, "large models keep one gradient buffer")
    }

    func testShardedGradientsEqualWholeBatchGradients() throws {
        for name in Fixtures.modelNames {
            let model = try Model.load(directory: Fixtures.modelDir(name))
            let docs = Fixtures.docs(try Fixtures.expected(name))
            guard docs.count >= 2 else { continue }
            let net = Transformer(model)
            var whole = [Float](repeating: 0, count: model.f32Parameters().count)
            let l1 = try whole.withUnsafeMutableBufferPointer {
                try lossAndGradients(net, batch: PackedBatch(documents: docs), grads: $0.baseAddress!)
            }
            var sharded = [Float](repeating: 0, count: model.f32Parameters().count), spare: [Float] = []
            let workspaces = [Arena(), Arena()]
            let (l2, used) = try sharded.withUnsafeMutableBufferPointer {
                try shardedLossAndGradients(net, documents: docs, grads: $0.baseAddress!, spare: &spare,
                                            workspaces: workspaces)
            }
            XCTAssertTrue(used, name)
            // Same per-row Double NLLs, summed in two shards then combined: regrouping only, measured 2e-15
            XCTAssertEqual(l1, l2, accuracy: 1e-12, "\(name) loss")
            let norm = sqrt(whole.reduce(0.0) { $0 + Double($1) * Double($1) })
            // Weight gradients sum over tokens in two float32 chains then add: measured ≤ 1.4e-8 of ‖g‖; 1e-5 relative
            XCTAssertLessThan(maxAbsDiff(whole, sharded), 1e-5 * max(norm, 1), "\(name) gradients")
            // A second call reuses the workspaces and gives the same numbers.
            var again = [Float](repeating: 0, count: model.f32Parameters().count)
            _ = try again.withUnsafeMutableBufferPointer {
                try shardedLossAndGradients(net, documents: docs, grads: $0.baseAddress!, spare: &spare,
                                            workspaces: workspaces)
            }
            XCTAssertEqual(again, sharded, "\(name) repeatable")
        }
    }
}
