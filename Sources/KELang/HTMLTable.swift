import KECharts

// MARK: HTML tables
//
// The `text/html` form of tabular results (entropy per layer, coefficients, probes,
// evaluations, comparisons) for notebooks. One writer: cells are the same strings the text
// rendering prints (numbers to 6 significant digits), escaped; the output depends on nothing
// but the table, so committed notebooks diff cleanly.

/// A table with a caption, a header row and body rows of text cells.
public struct HTMLTable: Sendable, Equatable {
    /// Shown above the table (nil: none).
    public var caption: String?
    public var header: [String]
    /// Body rows; each as long as `header` (shorter rows are padded with empty cells).
    public var rows: [[String]]
    /// Shown under the table, one line each (totals, notes).
    public var notes: [String]

    public init(caption: String? = nil, header: [String], rows: [[String]], notes: [String] = []) {
        self.caption = caption
        self.header = header
        self.rows = rows
        self.notes = notes
    }

    /// The table as an HTML fragment: `<table>` with `<caption>`, `<thead>`, `<tbody>` and the
    /// notes in a `<tfoot>`. Cells that read as numbers are right-aligned.
    public var html: String {
        var out = "<table class=\"ke-table\">\n"
        if let caption { out += "<caption>\(HTMLTable.escape(caption))</caption>\n" }
        out += "<thead><tr>" + header.map { "<th>\(HTMLTable.escape($0))</th>" }.joined() + "</tr></thead>\n<tbody>\n"
        for row in rows {
            let cells = row + Array(repeating: "", count: max(0, header.count - row.count))
            out += "<tr>" + cells.map { cell in
                HTMLTable.isNumeric(cell) ? "<td style=\"text-align:right\">\(HTMLTable.escape(cell))</td>"
                                          : "<td>\(HTMLTable.escape(cell))</td>"
            }.joined() + "</tr>\n"
        }
        out += "</tbody>\n"
        if !notes.isEmpty {
            out += "<tfoot>\n" + notes.map {
                "<tr><td colspan=\"\(max(1, header.count))\">\(HTMLTable.escape($0))</td></tr>\n"
            }.joined() + "</tfoot>\n"
        }
        return out + "</table>"
    }

    /// `text` safe in an HTML cell, by KECharts' one markup escaper (`markupEscaped`).
    public static func escape(_ text: String) -> String { markupEscaped(text) }

    /// True for a number as the printer writes it (`-1.5`, `2e-05`, `12.5%`, `nan`, `+0.3`).
    static func isNumeric(_ cell: String) -> Bool {
        var s = Substring(cell)
        if s.hasSuffix("%") { s = s.dropLast() }
        if s == "nan" || s == "inf" || s == "-inf" { return true }
        return !s.isEmpty && Double(s) != nil
    }
}
