// MARK: Knowledge entropy (placeholder signatures; implementation in progress)

/// Knowledge entropy of `model` on `corpus`.
public func knowledgeEntropy(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> EntropyResult {
    throw CoreError("entropy not implemented yet")
}

/// Perplexity of `model` on `corpus` (full logits).
public func perplexity(of model: Model, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> PerplexityResult {
    throw CoreError("perplexity not implemented yet")
}

extension Model {
    /// The paper's resuscitation: per layer, memories whose mean |coefficient| on `corpus` is at
    /// or below the `fraction`-quantile get their coefficient multiplied by (layer mean / own mean) · `factor`.
    public func rescaled(bottom fraction: Double, by factor: Double, on corpus: Corpus, progress: ProgressHandler? = nil) throws -> Model {
        throw CoreError("rescale not implemented yet")
    }
}
