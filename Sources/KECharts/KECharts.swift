/// Terminal charts: numbers in, glyphs out.
///
/// Build a ``Chart`` with one of its factory functions (`line`, `bar`, `histogram`, `heatmap`,
/// `sparkline`) and call ``Chart/render(_:)`` with ``RenderOptions``. Output is deterministic text
/// with no trailing newline; ANSI colour codes appear only when ``RenderOptions/color`` is set.
public enum KECharts {}
