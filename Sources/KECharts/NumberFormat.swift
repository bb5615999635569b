import Foundation

// MARK: - Compact number formatting

/// Formats numbers compactly, `%g`-like, deterministically and without locale.
///
/// Values with magnitude in [1e-3, 1e5) print in fixed notation with up to `significant`
/// significant digits and trailing zeros removed (`12.5`, `0.0034`, `12345`); others use a short
/// exponent form (`1.2e6`, `3.4e-4`). NaN and infinities print as `NaN`, `inf`, `-inf`.
enum NumberFormat {
    /// The compact text of `value`.
    static func compact(_ value: Double, significant: Int = 4) -> String {
        if value.isNaN { return "NaN" }
        if value.isInfinite { return value < 0 ? "-inf" : "inf" }
        if value == 0 { return "0" }
        let digits = min(max(significant, 1), 15)
        let magnitude = abs(value)
        if magnitude >= 1e-3 && magnitude < 1e5 {
            let exponent = Int(floor(log10(magnitude)))
            let decimals = max(0, digits - 1 - exponent)
            let text = fixed(value, decimals: decimals)
            // Rounding may carry to 1e5 (e.g. 99999.9): then the exponent form is shorter.
            if abs((value * pow(10.0, Double(decimals))).rounded()) < 1e5 * pow(10.0, Double(decimals)) {
                return text == "-0" ? "0" : text
            }
        }
        return exponential(value, significant: max(1, min(digits - 1, 3)))
    }

    /// `value` with exactly `decimals` decimals; trailing zeros (and a bare point) removed unless `keepZeros`.
    static func fixed(_ value: Double, decimals: Int, keepZeros: Bool = false) -> String {
        let decimals = min(max(decimals, 0), 12)
        let scale = pow(10.0, Double(decimals))
        let scaled = (abs(value) * scale).rounded()
        // Callers keep |value| * scale far below 2^63; guard anyway rather than trap.
        guard scaled.isFinite, scaled < 9.0e18 else { return exponential(value, significant: 3) }
        let integer = UInt64(scaled)
        var digits = String(integer)
        if decimals > 0 {
            if digits.count <= decimals {
                digits = String(repeating: "0", count: decimals - digits.count + 1) + digits
            }
            let split = digits.index(digits.endIndex, offsetBy: -decimals)
            var fraction = String(digits[split...])
            while !keepZeros && fraction.hasSuffix("0") { fraction.removeLast() }
            digits = String(digits[..<split]) + (fraction.isEmpty ? "" : "." + fraction)
        }
        let negative = value < 0 && integer != 0
        return (negative ? "-" : "") + digits
    }

    /// Exponent form with `significant` digits of mantissa: `1.2e6`, `-3.4e-4`.
    static func exponential(_ value: Double, significant: Int) -> String {
        if value == 0 || !value.isFinite { return compact(value) }
        let magnitude = abs(value)
        var exponent = Int(floor(log10(magnitude)))
        // Subnormal magnitudes: scale up first so 10^exponent does not underflow to 0.
        var mantissa = exponent < -300 ? (magnitude * 1e300) / pow(10.0, Double(exponent + 300))
                                       : magnitude / pow(10.0, Double(exponent))
        let decimals = max(0, significant - 1)
        let scale = pow(10.0, Double(decimals))
        mantissa = (mantissa * scale).rounded() / scale
        if mantissa >= 10 {
            mantissa /= 10
            exponent += 1
        }
        let text = fixed(mantissa, decimals: decimals)
        return (value < 0 ? "-" : "") + text + "e" + String(exponent)
    }
}

extension NumberFormat {
    /// Labels for evenly spaced tick `values` sharing one style: fixed decimals just fine enough
    /// for `step` when the numbers are moderate, else the exponent form for every label.
    static func ticks(_ values: [Double], step: Double) -> [String] {
        let magnitude = values.map { abs($0) }.max() ?? 0
        if step.isFinite, step >= 1e-4, magnitude < 1e5 {
            let decimals = max(0, -Int(floor(log10(step) + 1e-9)))
            return values.map { value in
                let text = fixed(value, decimals: decimals)
                return text == "-0" ? "0" : text
            }
        }
        return values.map { $0 == 0 ? "0" : exponential($0, significant: 3) }
    }
}

// MARK: - Nice ticks

/// Axis helpers: 1-2-5 tick steps and value-to-position mapping that never overflows.
enum Ticks {
    /// The smallest 1-2-5 step of at least `span / target`.
    static func niceStep(span: Double, target: Int) -> Double {
        let raw = span / Double(max(1, target))
        guard raw.isFinite, raw > 0 else { return 1 }
        let magnitude = pow(10.0, floor(log10(raw)))
        let fraction = raw / magnitude
        let nice: Double = fraction <= 1 ? 1 : fraction <= 2 ? 2 : fraction <= 5 ? 5 : 10
        return nice * magnitude
    }

    /// The next larger 1-2-5 step after `step`.
    static func nextStep(_ step: Double) -> Double {
        let magnitude = pow(10.0, floor(log10(step)))
        let fraction = (step / magnitude).rounded()
        if fraction < 2 { return 2 * magnitude }
        if fraction < 5 { return 5 * magnitude }
        return 10 * magnitude
    }

    /// A non-degenerate range around `lo...hi` (pads equal bounds).
    static func padded(_ lo: Double, _ hi: Double) -> (Double, Double) {
        if hi > lo { return (lo, hi) }
        let pad = lo == 0 ? 1 : abs(lo) * 0.1
        let a = lo - pad, b = hi + pad
        if a.isFinite && b.isFinite && b > a { return (a, b) }
        return (lo - 1, hi + 1)
    }

    /// Fraction of the way `value` lies from `lo` to `hi`, clamped to [0, 1]; safe for huge spans.
    static func fraction(_ value: Double, lo: Double, hi: Double) -> Double {
        let t = (value / 2 - lo / 2) / (hi / 2 - lo / 2)
        guard t.isFinite else { return 0 }
        return min(max(t, 0), 1)
    }

    /// Position in `0..<count` for `value` on `lo...hi` (rounded, clamped).
    static func position(_ value: Double, lo: Double, hi: Double, count: Int) -> Int {
        guard count > 1 else { return 0 }
        let t = fraction(value, lo: lo, hi: hi)
        return min(max(Int((t * Double(count - 1)).rounded()), 0), count - 1)
    }

    /// Multiples of `step` inside `lo...hi` (at most `limit`), snapping near-zero values to 0.
    static func multiples(of step: Double, lo: Double, hi: Double, limit: Int = 64) -> [Double] {
        guard step > 0, step.isFinite else { return [] }
        let first = ceil(lo / step - 1e-9)
        guard first.isFinite, abs(first) < 1e15 else { return [] }
        var result: [Double] = []
        var k = first
        while result.count < limit {
            var v = k * step
            if abs(v) < step * 1e-9 { v = 0 }
            if v > hi + step * 1e-9 { break }
            result.append(v)
            k += 1
        }
        return result
    }
}
