import Foundation

// MARK: The fixed word lists and templates of the synthetic world

/// The world's fixed text material: syllables for generated words, function words, and the
/// sentence templates for each attribute. `{n}` stands for the full name and `{v}` for the
/// value, which always ends the template (so a probe is the text before `{v}`).
///
/// The generalisation templates never appear in training text: they paraphrase the training
/// templates, so a model that answers them generalises beyond the surface form it saw.
enum WorldLexicon {
    static let onsets = ["b", "br", "c", "d", "dr", "f", "g", "gr", "h", "j", "k", "kl", "l", "m", "n",
                         "p", "pr", "r", "s", "st", "t", "tr", "v", "w", "z"]
    static let vowels = ["a", "e", "i", "o", "u", "ai", "ou", "ea"]
    static let codas = ["", "", "n", "r", "l", "s", "m", "th", "nd", "x"]

    static let months = ["january", "february", "march", "april", "may", "june", "july", "august",
                         "september", "october", "november", "december"]
    /// Function words; indices 4..<12 are prepositions, 12..<18 sentence-final adverbs.
    static let function = ["the", "a", "and", "of", "with", "in", "to", "for", "on", "by", "near", "but",
                           "then", "while", "again", "very", "often", "never", "."]

    /// The five attributes, in their canonical order.
    static let attributes = ["birth_date", "birth_city", "university", "major", "employer"]

    /// Templates used in training text (biographies and memorisation probes), per attribute.
    static let trainTemplates: [[String]] = [
        ["{n} was born on {v} .", "{n} came into this world on {v} .", "the birth date of {n} is {v} ."],
        ["{n} was born in {v} .", "{n} spent early years in {v} .", "the birthplace of {n} is {v} ."],
        ["{n} studied at {v} .", "{n} graduated from {v} .", "the school of {n} was {v} ."],
        ["{n} majored in {v} .", "{n} took a degree in {v} .", "the field of {n} was {v} ."],
        ["{n} worked for {v} .", "{n} was employed by {v} .", "the employer of {n} was {v} ."],
    ]

    /// Templates used only by generalisation probes, per attribute.
    static let genTemplates: [[String]] = [
        ["the day {n} arrived was {v} .", "records list the birthday of {n} as {v} ."],
        ["{n} first saw the light in {v} .", "the hometown of {n} is {v} ."],
        ["{n} earned a diploma at {v} .", "the alma mater of {n} is {v} ."],
        ["{n} was a student of {v} .", "the subject {n} chose was {v} ."],
        ["{n} earned a salary from {v} .", "the company of {n} was {v} ."],
    ]

    /// Templates that only the biography versions of `tiny:para` and `tiny:once` use (beside the
    /// training templates), per attribute: paraphrases never seen in pretraining text. They are
    /// made only of words the vocabulary already has (function words and training-template
    /// words) and are deliberately not part of `templateWords`, so adding them changed neither
    /// the vocabulary nor the built-in run. They avoid every generalisation-template word, so a
    /// generalisation probe stays a template the model never trained on.
    static let versionTemplates: [[String]] = [
        ["the date {n} was born is {v} .", "{n} was born into this world on {v} ."],
        ["{n} was born and spent early years in {v} .", "{n} came into this world in {v} ."],
        ["the school {n} graduated from is {v} .", "{n} studied and graduated at {v} ."],
        ["the degree {n} took was in {v} .", "{n} studied the field of {v} ."],
        ["{n} worked at {v} .", "the employer {n} worked for was {v} ."],
    ]

    /// Every literal word of every template (placeholders excluded).
    static var templateWords: Set<String> {
        var s = Set<String>()
        for t in (trainTemplates + genTemplates).joined() {
            for w in t.split(separator: " ") where w != "{n}" && w != "{v}" { s.insert(String(w)) }
        }
        return s
    }

    /// `template` with the name and value filled in.
    static func fill(_ template: String, name: String, value: String) -> String {
        template.replacingOccurrences(of: "{n}", with: name).replacingOccurrences(of: "{v}", with: value)
    }

    /// The probe input of `template`: the filled text before `{v}`, trimmed.
    static func prefix(_ template: String, name: String) -> String {
        let head = template.components(separatedBy: "{v}").first ?? template
        return head.replacingOccurrences(of: "{n}", with: name).trimmingCharacters(in: .whitespaces)
    }
}
