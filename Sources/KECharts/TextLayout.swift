// MARK: - Text layout helpers

/// Padding, centring, truncation and ANSI colouring of single-line text (one column per Character).
enum TextLayout {
    /// `text` cut to `width` columns, ending in an ellipsis (`…`, or `.` runs in ASCII) when cut.
    static func truncate(_ text: String, to width: Int, ascii: Bool) -> String {
        let width = max(0, width)
        guard text.count > width else { return text }
        if width == 0 { return "" }
        if ascii {
            if width <= 3 { return String(text.prefix(width)) }
            return String(text.prefix(width - 3)) + "..."
        }
        return String(text.prefix(width - 1)) + "…"
    }

    /// `text` right-aligned in `width` columns (never cut).
    static func padLeft(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }

    /// `text` left-aligned in `width` columns (never cut).
    static func padRight(_ text: String, _ width: Int) -> String {
        text + String(repeating: " ", count: max(0, width - text.count))
    }

    /// `text` centred in a field of `width` columns starting after `offset` columns; no trailing blanks.
    static func centered(_ text: String, width: Int, offset: Int = 0, ascii: Bool) -> String {
        let cut = truncate(text, to: width, ascii: ascii)
        let left = offset + max(0, (width - cut.count) / 2)
        return String(repeating: " ", count: max(0, left)) + cut
    }

    /// `text` wrapped at spaces into lines of at most `width` columns (over-long words are cut).
    static func wrap(_ text: String, width: Int) -> [String] {
        let width = max(1, width)
        var lines: [String] = []
        var current = ""
        for word in text.split(separator: " ") {
            var word = String(word)
            while word.count > width {
                if !current.isEmpty { lines.append(current); current = "" }
                lines.append(String(word.prefix(width)))
                word = String(word.dropFirst(width))
            }
            if word.isEmpty { continue }
            if current.isEmpty {
                current = word
            } else if current.count + 1 + word.count <= width {
                current += " " + word
            } else {
                lines.append(current)
                current = word
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// `line` without trailing spaces.
    static func trimTrailing(_ line: String) -> String {
        var result = Substring(line)
        while result.last == " " { result.removeLast() }
        return String(result)
    }

    /// Joins `lines` with newlines, trimming trailing blanks on each line and dropping blank last lines.
    static func join(_ lines: [String]) -> String {
        var trimmed = lines.map(trimTrailing)
        while trimmed.count > 1 && trimmed.last?.isEmpty == true { trimmed.removeLast() }
        return trimmed.joined(separator: "\n")
    }
}

// MARK: - ANSI colour

/// ANSI SGR colouring used only when ``RenderOptions/color`` is on.
enum ANSI {
    /// Series palette (foreground codes): green, blue, red, magenta, yellow, cyan.
    static let palette = [32, 34, 31, 35, 33, 36]

    /// The SGR code of series `index` (cycling through the palette).
    static func code(series index: Int) -> Int { palette[((index % palette.count) + palette.count) % palette.count] }

    /// `text` wrapped in the foreground `code` and a reset (unchanged when `enabled` is false or text is blank).
    static func paint(_ text: String, code: Int?, enabled: Bool) -> String {
        guard enabled, let code, !text.allSatisfy({ $0 == " " }) else { return text }
        return "\u{1B}[\(code)m" + text + "\u{1B}[0m"
    }

    /// Renders a run of characters with per-character colour codes, merging equal neighbours.
    static func paint(_ characters: [Character], codes: [Int?], enabled: Bool) -> String {
        guard enabled else { return String(characters) }
        var result = ""
        var index = 0
        while index < characters.count {
            let code = index < codes.count ? codes[index] : nil
            var end = index + 1
            while end < characters.count && (end < codes.count ? codes[end] : nil) == code { end += 1 }
            result += paint(String(characters[index..<end]), code: code, enabled: true)
            index = end
        }
        return result
    }
}
