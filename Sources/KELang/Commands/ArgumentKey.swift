// MARK: Argument keys
//
// Every argument a command takes is named by one `ArgumentKey`, declared here once. Commands
// declare their parameters with these keys (`.positional(.MODEL)`, `.option(.title, "\"…\"")`)
// and their implementations read arguments with the same keys (`inv.model(.MODEL)`), so a
// misspelt key is a compile-time error. The initializer is private to this file: a key exists
// only when it is listed below. (Tests/KELangTests/ArgumentKeyTests checks further that each
// command reads only keys it declares.)

/// The name of one command argument: its keyword (`on`, `title`), or for a positional argument
/// its placeholder without quotes (`MODEL`, `TEXT` for `"TEXT"`).
struct ArgumentKey: Hashable, Sendable, CustomStringConvertible {
    /// The keyword or placeholder as written in synopses and messages.
    let name: String

    private init(_ name: String) { self.name = name }

    var description: String { name }
}

extension ArgumentKey {
    // Positional arguments, by placeholder.
    static let A = ArgumentKey("A")
    static let B = ArgumentKey("B")
    static let C = ArgumentKey("C")
    static let DIR = ArgumentKey("DIR")
    static let EXPR = ArgumentKey("EXPR")
    static let FACTS = ArgumentKey("FACTS")
    static let FILE = ArgumentKey("FILE")
    static let LIST = ArgumentKey("LIST")
    static let MATRIX = ArgumentKey("MATRIX")
    static let MODEL = ArgumentKey("MODEL")
    static let N = ArgumentKey("N")
    static let NAME = ArgumentKey("NAME")
    static let PATH = ArgumentKey("PATH")
    static let SERIES = ArgumentKey("SERIES")
    static let TEXT = ArgumentKey("TEXT")
    static let TOKEN = ArgumentKey("TOKEN")
    static let VALUES = ArgumentKey("VALUES")
    static let X = ArgumentKey("X")
    static let XS = ArgumentKey("XS")
    static let YS = ArgumentKey("YS")

    // Keyword arguments, by keyword.
    static let batch = ArgumentKey("batch")
    static let beta1 = ArgumentKey("beta1")
    static let beta2 = ArgumentKey("beta2")
    static let bf16 = ArgumentKey("bf16")
    static let bins = ArgumentKey("bins")
    static let bottom = ArgumentKey("bottom")
    static let by = ArgumentKey("by")
    static let cache = ArgumentKey("cache")
    static let cap = ArgumentKey("cap")
    static let clip = ArgumentKey("clip")
    static let eps = ArgumentKey("eps")
    static let every = ArgumentKey("every")
    static let ffn = ArgumentKey("ffn")
    static let final = ArgumentKey("final")
    static let force = ArgumentKey("force")
    static let heads = ArgumentKey("heads")
    static let hidden = ArgumentKey("hidden")
    static let ignore_eos = ArgumentKey("ignore_eos")
    static let index = ArgumentKey("index")
    static let into = ArgumentKey("into")
    static let k = ArgumentKey("k")
    static let labels = ArgumentKey("labels")
    static let layer = ArgumentKey("layer")
    static let layers = ArgumentKey("layers")
    static let limit = ArgumentKey("limit")
    static let log = ArgumentKey("log")
    static let lr = ArgumentKey("lr")
    static let memories = ArgumentKey("memories")
    static let of = ArgumentKey("of")
    static let on = ArgumentKey("on")
    static let once = ArgumentKey("once")
    static let pack = ArgumentKey("pack")
    static let `protocol` = ArgumentKey("protocol")
    static let replay = ArgumentKey("replay")
    static let retain = ArgumentKey("retain")
    static let revisions = ArgumentKey("revisions")
    static let schedule = ArgumentKey("schedule")
    static let seed = ArgumentKey("seed")
    static let seq = ArgumentKey("seq")
    static let shard = ArgumentKey("shard")
    static let special = ArgumentKey("special")
    static let steps = ArgumentKey("steps")
    static let tasks = ArgumentKey("tasks")
    static let title = ArgumentKey("title")
    static let to = ArgumentKey("to")
    static let tokenizer = ArgumentKey("tokenizer")
    static let tokens = ArgumentKey("tokens")
    static let top = ArgumentKey("top")
    static let using = ArgumentKey("using")
    static let warmup = ArgumentKey("warmup")
    static let wd = ArgumentKey("wd")
    static let world = ArgumentKey("world")
    static let x = ArgumentKey("x")
    static let xlabel = ArgumentKey("xlabel")
    static let ylabel = ArgumentKey("ylabel")
}
