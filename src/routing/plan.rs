//! The order in which a request tries channels: priority tiers ascending, and inside a tier a
//! weighted random order without replacement, so each channel is tried at most once and traffic
//! splits by weight among the first choices.

use super::catalog::Channel;
use rand::Rng;

/// The attempt order for `channels`.
pub fn plan<'a, R: Rng + ?Sized>(channels: &'a [Channel], rng: &mut R) -> Vec<&'a Channel> {
    let mut order: Vec<&Channel> = channels.iter().collect();
    order.sort_by_key(|c| c.priority);
    let mut start = 0;
    while start < order.len() {
        let priority = order[start].priority;
        let end = order[start..].iter().position(|c| c.priority != priority).map_or(order.len(), |n| start + n);
        shuffle_weighted(&mut order[start..end], rng);
        start = end;
    }
    order
}

/// Orders a tier by repeated weighted draws: the first position is taken by each channel with
/// probability weight / total weight.
fn shuffle_weighted<R: Rng + ?Sized>(tier: &mut [&Channel], rng: &mut R) {
    for i in 0..tier.len() {
        let total: u64 = tier[i..].iter().map(|c| u64::from(c.weight.max(1))).sum();
        let mut pick = rng.random_range(0..total);
        for j in i..tier.len() {
            let w = u64::from(tier[j].weight.max(1));
            if pick < w {
                tier.swap(i, j);
                break;
            }
            pick -= w;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn ch(name: &str, priority: u32, weight: u32) -> Channel {
        Channel {
            provider: 0,
            provider_name: name.into(),
            upstream_model: "m".into(),
            priority,
            weight,
            label: name.into(),
            public_model: "m".into(),
        }
    }

    #[test]
    fn weights_split_the_first_pick() {
        let channels = vec![ch("a", 0, 3), ch("b", 0, 1), ch("c", 1, 100)];
        let mut rng = StdRng::seed_from_u64(7);
        let mut first_a = 0;
        for _ in 0..4000 {
            let p = plan(&channels, &mut rng);
            assert_eq!(p[2].label, "c", "lower tier always last");
            if p[0].label == "a" {
                first_a += 1;
            }
        }
        // Expected 3000 of 4000; a generous band still catches a uniform (2000) or fixed order.
        assert!((2800..3200).contains(&first_a), "{first_a}");
    }

    #[test]
    fn lower_priority_numbers_always_go_first() {
        let channels = vec![ch("late", 2, 1000), ch("first", 0, 1), ch("middle", 1, 1)];
        let mut rng = StdRng::seed_from_u64(1);
        for _ in 0..50 {
            let labels: Vec<&str> = plan(&channels, &mut rng).iter().map(|c| c.label.as_str()).collect();
            assert_eq!(labels, ["first", "middle", "late"], "weight never crosses a tier");
        }
    }

    #[test]
    fn the_second_pick_is_weighted_among_the_rest() {
        // With weights 6:3:1, when `a` is first, `b` is second with probability 3/4.
        let channels = vec![ch("a", 0, 6), ch("b", 0, 3), ch("c", 0, 1)];
        let mut rng = StdRng::seed_from_u64(11);
        let (mut a_first, mut b_second) = (0u32, 0u32);
        let mut firsts = [0u32; 3];
        for _ in 0..6000 {
            let p = plan(&channels, &mut rng);
            let n = ["a", "b", "c"].iter().position(|l| *l == p[0].label).unwrap();
            firsts[n] += 1;
            if p[0].label == "a" {
                a_first += 1;
                b_second += u32::from(p[1].label == "b");
            }
        }
        // Expected 3600 / 1800 / 600; the bands are about 5 standard deviations wide.
        assert!(
            (3420..3780).contains(&firsts[0]) && (1650..1950).contains(&firsts[1]) && (480..720).contains(&firsts[2]),
            "{firsts:?}"
        );
        let share = f64::from(b_second) / f64::from(a_first);
        assert!((0.70..0.80).contains(&share), "{share}");
    }

    #[test]
    fn a_zero_weight_counts_as_one() {
        let channels = vec![ch("zero", 0, 0), ch("one", 0, 1)];
        let mut rng = StdRng::seed_from_u64(3);
        let zero_first = (0..2000).filter(|_| plan(&channels, &mut rng)[0].label == "zero").count();
        assert!((850..1150).contains(&zero_first), "{zero_first}");
    }

    #[test]
    fn the_same_seed_gives_the_same_order() {
        let channels: Vec<Channel> = (0..6).map(|i| ch(&i.to_string(), i % 2, 1 + i)).collect();
        let once = |seed| plan(&channels, &mut StdRng::seed_from_u64(seed)).iter().map(|c| c.label.clone()).collect::<Vec<_>>();
        assert_eq!(once(42), once(42));
        assert!(plan(&[], &mut StdRng::seed_from_u64(0)).is_empty());
    }

    proptest! {
        #[test]
        fn every_channel_once_and_tiers_ascending(spec in proptest::collection::vec((0u32..3, 1u32..5), 0..8), seed in any::<u64>()) {
            let channels: Vec<Channel> = spec.iter().enumerate().map(|(i, (p, w))| ch(&i.to_string(), *p, *w)).collect();
            let p = plan(&channels, &mut StdRng::seed_from_u64(seed));
            prop_assert_eq!(p.len(), channels.len());
            let mut labels: Vec<_> = p.iter().map(|c| c.label.clone()).collect();
            prop_assert!(p.windows(2).all(|w| w[0].priority <= w[1].priority));
            labels.sort();
            labels.dedup();
            prop_assert_eq!(labels.len(), channels.len());
        }
    }
}
