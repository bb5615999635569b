import KECore

// MARK: MIME bundles
//
// How a value shows in a notebook (Jupyter's display data): every value has `text/plain` (the
// human rendering, exactly as the terminal and the Markdown transcripts show it) and
// `application/json` (the value `--json` prints); charts, and results drawn with a chart (the
// layer bars of entropy and coefficients), add `image/svg+xml`; tabular results (entropy per
// layer, coefficients, probes, evaluations, comparisons) add `text/html`.

/// The MIME bundle of a value.
public enum MIMEBundle {
    public static let plainText = "text/plain"
    public static let json = "application/json"
    public static let svg = "image/svg+xml"
    public static let html = "text/html"
    /// The type the JSON form is stored under in notebooks (`ke --notebook OUT.ipynb`) and sent
    /// to Jupyter front ends by the kernel wrapper: JupyterLab (whose JSON renderer has rank 0)
    /// and VS Code (whose display order starts with `application/json`) would otherwise show
    /// every value, charts and tables included, as a JSON tree. The data is the same; the
    /// kernel's own protocol (`ke --kernel-stdio`) keeps `application/json`.
    public static let notebookJSON = "application/vnd.ke.value+json"

    /// `bundle` as a notebook front end should receive it: `application/json` renamed to
    /// `notebookJSON`, everything else unchanged and in order.
    public static func forNotebook(_ bundle: [(String, JSONValue)]) -> [(String, JSONValue)] {
        bundle.map { ($0.0 == json ? notebookJSON : $0.0, $0.1) }
    }

    /// `value`'s representations, keyed by MIME type, in the order above; `text/plain` and
    /// `application/json` always, the others when the value has them. The JSON form is an
    /// object or a scalar (not a string of JSON); NaN and ±∞ in it are null, as with `--json`.
    public static func of(_ value: Value, options: SessionOptions) -> [(String, JSONValue)] {
        var nonFinite = false
        var bundle: [(String, JSONValue)] = [
            (plainText, .string(Printer.human(value, options: options))),
            (json, Printer.json(value, options: options, nonFinite: &nonFinite)),
        ]
        var chart: ChartValue?
        var table: HTMLTable?
        switch value {
        case .chart(let c): chart = c
        case .record(let r):
            chart = r.result?.displayChart
            table = r.result?.htmlTable
        default: break
        }
        if let svg = chart?.svg { bundle.append((self.svg, .string(svg()))) }
        if let table { bundle.append((html, .string(table.html))) }
        return bundle
    }
}
