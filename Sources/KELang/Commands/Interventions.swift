import KECore

// MARK: Interventions: models with some memories' coefficients changed
//
// rescale (the paper's resuscitation of the least active memories), scale and ablate. Each
// returns a new model; the original is unchanged and the interventions are listed in the new
// model's summary.

extension Command {
    static let rescale = Command(
        "rescale", [.positional(.MODEL), .keyword(.bottom, "P"), .keyword(.by, "Q"), .option(.on, "CORPUS"), .option(.using, "SUMS"),
                    .option(.cap, "X")],
        group: "models",
        brief: "Revive the least active memories.",
        summary: """
            The paper's resuscitation: per layer, the memories whose mean |coefficient| on the \
            corpus is at or below the P-quantile (P a percentage such as 10%, or a fraction) get \
            their coefficient multiplied by (layer mean / own mean) · Q, so the least active \
            memories are revived. For gated (SwiGLU) MLPs the multiplier folds exactly into row \
            i of the up projection; for GELU MLPs it is a per-memory coefficient multiplier, \
            folded into the value vector when saved. With `using SUMS` instead of `on CORPUS` \
            the means come from a sums value (e.g. `merge` of shards), which must have been \
            measured on this model (same fingerprint). With `on CORPUS`, returns a new model \
            carrying perplexity_before and perplexity_after, its perplexity on the same corpus \
            before and after (one extra pass each); with `using SUMS`, the new model. Either way \
            the model's field multipliers lists, per layer, the memories rescaled (count) and \
            the largest multiplier (largest). \
            When the rule explodes: a layer with a few very active memories (the "massive \
            activations" of real models) has a mean far above its quiet memories' means, so \
            (layer mean / own mean) · Q reaches hundreds or thousands and the model can break \
            (SmolLM2-135M: perplexity 26 → 43,410 at bottom 50% by 2). A rescale that gives a \
            multiplier above 100, or more than doubles the perplexity, prints a warning on \
            stderr. `cap X` limits every multiplier to X (X > 0); without it the paper's rule is \
            unchanged. \(cacheNote)
            """,
        example: "let r = rescale m bottom 10% by 2 on c\nr.multipliers[0].largest\nlet safe = rescale m bottom 50% by 2 on c cap 10",
        run: { inv in
            let p = try inv.fraction(.bottom)
            let q = try inv.finite(.by)
            guard q >= 0 else { throw inv.error("'rescale … by' must not be negative", at: .by) }
            let cap = inv.has(.cap) ? try inv.positive(.cap) : nil
            let model = try inv.model(.MODEL)
            if inv.has(.using) {
                if inv.has(.on) { throw inv.error("'rescale' takes either 'on CORPUS' or 'using SUMS', not both", at: .using) }
                let stats = try inv.sumsStatistics(.using, for: model)
                guard let s = try inv.value(.using).result(CoefficientSums.self) else { throw inv.error("internal: sums", at: .using) }
                let rescaled: Model
                do {
                    rescaled = try model.rescaled(bottom: p, by: q, cap: cap, stats: stats, source: "sums of corpus \(s.corpus)")
                } catch let e as CoreError { throw inv.error(e.description, at: .using) }
                for w in rescaled.rescaleSummary?.warnings() ?? [] { inv.warn(w) }
                return .model(rescaled)
            }
            guard inv.has(.on) else { throw inv.error("'rescale' needs 'on CORPUS' or 'using SUMS' — usage: rescale MODEL bottom P by Q on CORPUS") }
            let corpus = try inv.corpus(.on, for: model)
            let stats = try inv.statistics(of: model, on: corpus)
            let rescaled = try model.rescaled(bottom: p, by: q, cap: cap, stats: stats, source: corpus.source)
            let before = try KECore.perplexity(of: model, on: corpus, progress: inv.progress).perplexity
            let after = try KECore.perplexity(of: rescaled, on: corpus, progress: inv.progress).perplexity
            for w in rescaled.rescaleSummary?.warnings(perplexityBefore: before, after: after) ?? [] { inv.warn(w) }
            return .model(rescaled.measured([("perplexity_before", before), ("perplexity_after", after)]))
        })

    static let scale = Command(
        "scale", [.positional(.MODEL), .keyword(.layer, "L"), .keyword(.memories, "[i, j, …]"), .keyword(.by, "Q")],
        group: "inspect",
        brief: "Multiply some memories' coefficients by Q.",
        summary: """
            Returns a new model in which the coefficient of each listed memory of layer L is \
            multiplied by Q (coefficient_i → Q · coefficient_i at every token). For gated (SwiGLU) \
            MLPs this folds exactly into row i of the up projection; for GELU MLPs it is kept as \
            a per-memory coefficient multiplier, folded into the value vector when saved. \
            Interventions compose and are listed in the model's summary; the original is unchanged.
            """,
        example: "let s = scale m layer 1 memories [5, 9] by 3",
        run: { inv in
            let model = try inv.model(.MODEL)
            let l = try inv.layer(.layer, of: model.config.numLayers)
            let ids = try inv.memories(.memories, of: model)
            let q = try inv.finite(.by)
            return .model(try model.scaled(layer: l, memories: ids, by: q))
        })

    static let ablate = Command(
        "ablate", [.positional(.MODEL), .keyword(.layer, "L"), .keyword(.memories, "[i, …]")],
        group: "inspect",
        brief: "Switch memories off (coefficient 0).",
        summary: """
            Returns a new model in which the coefficients of the listed memories of layer L are 0 \
            at every token (LM-Debugger's "off"), i.e. scale … by 0: folded into the up \
            projection for gated MLPs, a coefficient multiplier for GELU MLPs (folded into the \
            value vector on save). The original is unchanged.
            """,
        example: "let a = ablate m layer 1 memories [5]\npredict a \"the birthplace of\"",
        run: { inv in
            let model = try inv.model(.MODEL)
            let l = try inv.layer(.layer, of: model.config.numLayers)
            let ids = try inv.memories(.memories, of: model)
            return .model(try model.ablated(layer: l, memories: ids))
        })
}
