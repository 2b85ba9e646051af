//! `model: "auto"`: ranking the configured candidates by price, measured time to first token,
//! or a weighted score of both with a quality score. Pure: the caller supplies the measures.

use crate::config::{AutoPolicy, AutoWeights};

/// What is known about one candidate when ranking.
#[derive(Clone, Debug, PartialEq)]
pub struct Candidate {
    /// Input + output price per 1M tokens in micro-USD (0 when the model has no price).
    pub cost: u64,
    /// The moving average of its time to first token in ms; `None` until one was measured.
    pub ttft_ms: Option<f64>,
    /// Its configured quality score (0 when not given).
    pub quality: f64,
}

/// The candidates' indices, best first. Ties keep the configured order.
///
/// `fastest` puts candidates never measured first (in configured order), so each gets measured
/// once, then the rest by ascending time to first token. `weighted` scores each candidate as
/// `quality·q/max(q) − cost·c/max(c) − latency·t/max(t)`, each measure divided by its largest
/// value among the candidates (an unmeasured time counts as 0, so it is tried).
pub fn rank(policy: AutoPolicy, weights: &AutoWeights, candidates: &[Candidate]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..candidates.len()).collect();
    match policy {
        AutoPolicy::Cheapest => order.sort_by_key(|&i| candidates[i].cost),
        AutoPolicy::Fastest => order.sort_by(|&a, &b| {
            let key = |i: usize| candidates[i].ttft_ms.unwrap_or(f64::NEG_INFINITY);
            key(a).total_cmp(&key(b))
        }),
        AutoPolicy::Weighted => {
            let scores = weighted_scores(weights, candidates);
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
        }
    }
    order
}

/// Each candidate's weighted score (higher is better).
fn weighted_scores(w: &AutoWeights, candidates: &[Candidate]) -> Vec<f64> {
    let max = |f: &dyn Fn(&Candidate) -> f64| candidates.iter().map(f).fold(0.0_f64, f64::max);
    let cost = |c: &Candidate| c.cost as f64;
    let ttft = |c: &Candidate| c.ttft_ms.unwrap_or(0.0);
    let quality = |c: &Candidate| c.quality;
    let (max_cost, max_ttft, max_quality) = (max(&cost), max(&ttft), max(&quality));
    let share = |v: f64, max: f64| if max > 0.0 { v / max } else { 0.0 };
    candidates
        .iter()
        .map(|c| {
            w.quality * share(quality(c), max_quality) - w.cost * share(cost(c), max_cost) - w.latency * share(ttft(c), max_ttft)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(cost: u64, ttft_ms: Option<f64>, quality: f64) -> Candidate {
        Candidate { cost, ttft_ms, quality }
    }

    const EVEN: AutoWeights = AutoWeights { cost: 1.0, latency: 1.0, quality: 1.0 };

    #[test]
    fn cheapest_sorts_by_price_and_keeps_the_order_of_equals() {
        let cs = [c(750, None, 0.0), c(150, None, 0.0), c(750, None, 0.0), c(0, None, 0.0)];
        assert_eq!(rank(AutoPolicy::Cheapest, &EVEN, &cs), [3, 1, 0, 2]);
        let unpriced = [c(0, None, 0.0), c(0, None, 0.0)];
        assert_eq!(rank(AutoPolicy::Cheapest, &EVEN, &unpriced), [0, 1], "no prices: the configured order");
    }

    #[test]
    fn fastest_measures_the_unmeasured_first_then_sorts_by_time() {
        let cs = [c(0, Some(300.0), 0.0), c(0, Some(20.0), 0.0), c(0, None, 0.0), c(0, Some(90.0), 0.0)];
        assert_eq!(rank(AutoPolicy::Fastest, &EVEN, &cs), [2, 1, 3, 0]);
    }

    #[test]
    fn weighted_trades_quality_against_price_and_time() {
        // pricey: 2·1 − 1·1 = 1; cheap: 2·0.1 − 1·0.2 = 0.
        let w = AutoWeights { cost: 1.0, latency: 0.0, quality: 2.0 };
        let cs = [c(200, None, 1.0), c(1000, None, 10.0)];
        assert_eq!(rank(AutoPolicy::Weighted, &w, &cs), [1, 0]);
        // Only price counts: the cheap one.
        let w = AutoWeights { cost: 1.0, latency: 0.0, quality: 0.0 };
        assert_eq!(rank(AutoPolicy::Weighted, &w, &cs), [0, 1]);
        // Only time counts: the faster one.
        let w = AutoWeights { cost: 0.0, latency: 1.0, quality: 0.0 };
        let cs = [c(0, Some(500.0), 0.0), c(0, Some(50.0), 0.0)];
        assert_eq!(rank(AutoPolicy::Weighted, &w, &cs), [1, 0]);
        // All zero: the configured order.
        assert_eq!(rank(AutoPolicy::Weighted, &EVEN, &[c(0, None, 0.0), c(0, None, 0.0)]), [0, 1]);
    }
}
