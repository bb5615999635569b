import KECharts
import KECore

// MARK: Chart options
//
// The options the chart commands share — `title`, `xlabel`, `ylabel`, `labels` — declared once
// (`ChartOptions.params`, each command listing the ones it takes in its synopsis order), read
// once (`ChartOptions(inv, …)`, with the defaults of a result's chart form) and applied once
// (the chart builders below and `fields`, the JSON form). `log` is not one of them: `plot … log`
// puts y on a log axis, `hist … log` draws log counts; each command reads its own.

/// The title, axis labels and series (or bar, or row) labels of one chart.
struct ChartOptions {
    var title: String?
    var xlabel: String?
    var ylabel: String?
    /// One name per series (`plot`), bar (`bar`) or row (`heatmap`).
    var labels: [String]?

    /// One option of the group.
    enum Option {
        case title, xlabel, ylabel, labels

        var param: Param {
            switch self {
            case .title: .option(.title, "\"…\"")
            case .xlabel: .option(.xlabel, "\"…\"")
            case .ylabel: .option(.ylabel, "\"…\"")
            case .labels: .option(.labels, "[…]")
            }
        }
    }

    /// The parameters of `options`, in the order given (the order of the command's synopsis).
    static func params(_ options: Option...) -> [Param] { options.map(\.param) }

    /// The options given to `inv`; an absent one is taken from `defaults`. Labels are read first
    /// and, when there are any, must number `count` (one per `noun`: "series", "rows", …); then
    /// title, xlabel and ylabel.
    ///
    /// - Throws: `LangError` at the argument: a title or axis label that is not a string, labels
    ///   that are not a list of strings or not `count` of them.
    init(_ inv: Invocation, labelling count: Int? = nil, noun: String = "", defaults: ChartOptions = ChartOptions()) throws {
        labels = inv.has(.labels) ? try inv.strings(.labels) : defaults.labels
        if let labels, let count, labels.count != count {
            throw inv.error("'\(inv.command.name) … labels' has \(labels.count) labels for \(count) \(noun)", at: .labels)
        }
        title = try inv.optionalString(.title) ?? defaults.title
        xlabel = try inv.optionalString(.xlabel) ?? defaults.xlabel
        ylabel = try inv.optionalString(.ylabel) ?? defaults.ylabel
    }

    /// Options with the given texts (the defaults of a result's chart form).
    init(title: String? = nil, xlabel: String? = nil, ylabel: String? = nil, labels: [String]? = nil) {
        self.title = title
        self.xlabel = xlabel
        self.ylabel = ylabel
        self.labels = labels
    }

    // MARK: Applied

    /// A line chart of `series` against `x` with these options.
    func line(_ series: [[Double]], x: [Double]?, logY: Bool) -> Chart {
        Chart.line(series, x: x, title: title, xlabel: xlabel, ylabel: ylabel, labels: labels, logY: logY)
    }

    /// A bar chart of `values` (labels name the bars).
    func bar(_ values: [Double]) -> Chart { Chart.bar(values, labels: labels, title: title) }

    /// A histogram of `values` in `bins` bins.
    func histogram(_ values: [Double], bins: Int, logCounts: Bool) -> Chart {
        Chart.histogram(values, bins: bins, logCounts: logCounts, title: title, xlabel: xlabel)
    }

    /// A heatmap of `matrix` (labels name the rows).
    func heatmap(_ matrix: [[Double]]) -> Chart {
        Chart.heatmap(matrix, title: title, xlabel: xlabel, ylabel: ylabel, rowLabels: labels)
    }

    /// The JSON fields of the options that are set: labels, title, xlabel, ylabel, in that order.
    var fields: [(String, JSONValue)] {
        var out: [(String, JSONValue)] = []
        if let labels { out.append(("labels", .array(labels.map { .string($0) }))) }
        if let title { out.append(("title", .string(title))) }
        if let xlabel { out.append(("xlabel", .string(xlabel))) }
        if let ylabel { out.append(("ylabel", .string(ylabel))) }
        return out
    }
}
