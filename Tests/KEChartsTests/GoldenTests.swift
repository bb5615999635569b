import XCTest
@testable import KECharts

/// Golden renderings of every chart kind (ASCII canvas, plus braille variants).
final class GoldenTests: XCTestCase {
    let ascii = RenderOptions(width: 72, canvas: .ascii)
    let braille = RenderOptions(width: 72)

    /// A deterministic pair of training-like curves.
    var curves: [[Double]] {
        let a = (0..<40).map { 4.2 * exp(-Double($0) / 9) + 1.1 }
        let b = (0..<40).map { 3.1 * exp(-Double($0) / 14) + 0.6 + 0.05 * sin(Double($0)) }
        return [a, b]
    }

    func testLineAscii() {
        let chart = Chart.line(curves, title: "Training loss", xlabel: "epoch", ylabel: "loss",
                               labels: ["baseline", "rescaled"])
        Golden.check(chart.render(ascii), "line_ascii")
    }

    func testLineBraille() {
        let chart = Chart.line(curves, title: "Training loss", xlabel: "epoch", ylabel: "loss",
                               labels: ["baseline", "rescaled"])
        Golden.check(chart.render(braille), "line_braille")
    }

    func testLineSingleSeriesWithX() {
        let x = (0..<30).map { Double($0) * 500 }
        let y = x.map { 7.5 - 0.8 * log(1 + $0 / 100) }
        let chart = Chart.line([y], x: x, title: "Knowledge entropy", xlabel: "step", ylabel: "H")
        Golden.check(chart.render(RenderOptions(width: 60, height: 10, canvas: .ascii)), "line_x_ascii")
        Golden.check(chart.render(RenderOptions(width: 60, height: 10)), "line_x_braille")
    }

    func testLineLogY() {
        let y: [Double] = [1000, 300, 120, 0, 40, 9, -2, 2.5, 0.9, 0.2]
        let chart = Chart.line([y], title: "log scale", logY: true)
        Golden.check(chart.render(RenderOptions(width: 50, height: 12, canvas: .ascii)), "line_logy_ascii")
    }

    func testLineManySeriesLegendBelow() {
        let series = (0..<12).map { layer in (0..<20).map { Double(layer) + sin(Double($0) / 3) } }
        let labels = (0..<12).map { "layer \($0)" }
        let chart = Chart.line(series, title: "Per-layer", labels: labels)
        Golden.check(chart.render(RenderOptions(width: 60, height: 8, canvas: .ascii)), "line_many_ascii")
    }

    func testBarAscii() {
        let chart = Chart.bar([3.2, 7.75, 0, 12.5, 5.1], labels: ["alpha", "beta", "gamma", "delta", "epsilon"],
                              title: "Scores")
        Golden.check(chart.render(ascii), "bar_ascii")
        Golden.check(chart.render(braille), "bar_unicode")
    }

    func testBarNegative() {
        let chart = Chart.bar([2.5, -1.25, 4, -3], labels: ["a", "b", "c", "d"], title: "Mixed signs")
        Golden.check(chart.render(RenderOptions(width: 40, canvas: .ascii)), "bar_negative_ascii")
    }

    func testHistogramAscii() {
        var state: UInt64 = 42
        let values = (0..<2000).map { _ -> Double in
            var sum = 0.0
            for _ in 0..<6 {
                state = state &* 6364136223846793005 &+ 1442695040888963407
                sum += Double(state >> 11) / Double(1 << 53)
            }
            return sum
        }
        let chart = Chart.histogram(values, bins: 12, title: "Sum of 6 uniforms", xlabel: "value")
        Golden.check(chart.render(ascii), "hist_ascii")
        Golden.check(chart.render(braille), "hist_unicode")
        let log = Chart.histogram(values, bins: 12, logCounts: true, title: "log counts")
        Golden.check(log.render(ascii), "hist_log_ascii")
    }

    func testHeatmapAscii() {
        let matrix = (0..<8).map { row in (0..<24).map { column in Double(row) * sin(Double(column) / 4) } }
        let chart = Chart.heatmap(matrix, title: "Coefficients", xlabel: "unit", ylabel: "layer")
        Golden.check(chart.render(ascii), "heatmap_ascii")
        Golden.check(chart.render(braille), "heatmap_unicode")
    }

    func testHeatmapWideAveraged() {
        let matrix = (0..<4).map { row in (0..<1000).map { column in Double(column * (row + 1)) } }
        let chart = Chart.heatmap(matrix, title: "Wide", rowLabels: ["L0", "L1", "L2", "L3"])
        Golden.check(chart.render(RenderOptions(width: 40, canvas: .ascii)), "heatmap_wide_ascii")
    }

    func testSparkline() {
        let values = (0..<30).map { sin(Double($0) / 4) }
        Golden.check(Chart.sparkline(values).render(RenderOptions(canvas: .ascii)) + "\n"
                     + Chart.sparkline(values).render(RenderOptions()), "spark")
    }
}
