/// Terminal charts: numbers in, glyphs out.
///
/// Build a ``Chart`` with one of its factory functions (`line`, `bar`, `histogram`, `heatmap`,
/// `sparkline`) and call ``Chart/render(_:)`` with ``RenderOptions``. Output is deterministic text
/// with no trailing newline; ANSI colour codes appear only when ``RenderOptions/color`` is set.
///
/// ```swift
/// let chart = Chart.line([lossA, lossB], title: "Loss", xlabel: "epoch", labels: ["base", "rescaled"])
/// print(chart.render(RenderOptions(width: 80, canvas: .ascii)))
/// print(sparkline(entropies))
/// ```
///
/// Line charts draw on a ``Canvas`` (``BrailleCanvas`` or ``AsciiCanvas``) that only sets pixels;
/// the plot adds the frame, ticks (1-2-5 steps), labels and legend around it. Non-finite values are
/// skipped everywhere; a chart with no finite value renders `(no data)`. Widths below 20 columns are
/// widened to 20. Text is measured one column per `Character` (wide CJK labels will misalign).
///
/// ``Chart/svg(_:)`` draws the same chart as a standalone SVG document (``SVGOptions`` in pixels):
/// an `SVGDocument` only emits elements, the plot types lay them out with the same axis rules.
public enum KECharts {}
