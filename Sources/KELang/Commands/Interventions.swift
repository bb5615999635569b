import KECore

// MARK: Interventions: models with some memories' coefficients changed
//
// rescale (the paper's resuscitation of the least active memories), scale and ablate. Each
// returns a new model; the original is unchanged and the interventions are listed in the new
// model's summary.

extension Command {
    static let rescale = Command(
        "rescale", [.positional("MODEL"), .keyword("bottom", "P"), .keyword("by", "Q"), .option("on", "CORPUS"), .option("using", "SUMS")],
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
            before and after (one extra pass each); when the rescale more than doubles it, the \
            model's display says so. With `using SUMS`, returns the new model.
            """,
        example: "let r = rescale m bottom 10% by 2 on c",
        run: { inv in
            let p = try inv.fraction("bottom")
            let q = try inv.finite("by")
            guard q >= 0 else { throw inv.error("'rescale … by' must not be negative", at: "by") }
            let model = try inv.model("MODEL")
            if inv.has("using") {
                if inv.has("on") { throw inv.error("'rescale' takes either 'on CORPUS' or 'using SUMS', not both", at: "using") }
                let v = try inv.value("using")
                guard let s = v.result(CoefficientSums.self) else { throw inv.typeError("using", expected: "a sums value", found: v) }
                let fp: String
                do { fp = try modelFingerprint(model) } catch let e as CoreError { throw inv.error(e.description, at: "MODEL") }
                guard s.model == fp else {
                    throw inv.error("the sums were measured on model \(s.model), not on this model (\(fp))", at: "using")
                }
                let stats = try inv.statistics(of: s, at: "using")
                do {
                    return .model(try model.rescaled(bottom: p, by: q, stats: stats, source: "sums of corpus \(s.corpus)"))
                } catch let e as CoreError { throw inv.error(e.description, at: "using") }
            }
            guard inv.has("on") else { throw inv.error("'rescale' needs 'on CORPUS' or 'using SUMS' — usage: rescale MODEL bottom P by Q on CORPUS") }
            let corpus = try inv.corpus("on", for: model)
            let rescaled = try model.rescaled(bottom: p, by: q, on: corpus, progress: inv.progress)
            let before = try KECore.perplexity(of: model, on: corpus, progress: inv.progress).perplexity
            let after = try KECore.perplexity(of: rescaled, on: corpus, progress: inv.progress).perplexity
            return .model(rescaled.measured([("perplexity_before", before), ("perplexity_after", after)]))
        })

    static let scale = Command(
        "scale", [.positional("MODEL"), .keyword("layer", "L"), .keyword("memories", "[i, j, …]"), .keyword("by", "Q")],
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
            let model = try inv.model("MODEL")
            let l = try inv.layer("layer", of: model.config.numLayers)
            let ids = try inv.memories("memories", of: model)
            let q = try inv.finite("by")
            return .model(try model.scaled(layer: l, memories: ids, by: q))
        })

    static let ablate = Command(
        "ablate", [.positional("MODEL"), .keyword("layer", "L"), .keyword("memories", "[i, …]")],
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
            let model = try inv.model("MODEL")
            let l = try inv.layer("layer", of: model.config.numLayers)
            let ids = try inv.memories("memories", of: model)
            return .model(try model.ablated(layer: l, memories: ids))
        })
}
