//! The order in which a request tries channels: only channels in rotation (see
//! [`health`](super::health)), priority tiers ascending, and inside a tier a weighted random
//! order without replacement, so each channel is tried at most once and traffic splits by weight
//! among the first choices. The order is cut to the request's attempt budget.
//!
//! When no channel is in rotation, the plan still holds one: the channel that failed longest
//! ago, tried once (a `fallback` plan), rather than refusing at once.

use super::catalog::Channel;
use super::health::Health;
use rand::Rng;

/// The channels one request may try, in order.
#[derive(Debug)]
pub struct Plan<'a> {
    /// Channels in attempt order, at most the budget.
    pub order: Vec<&'a Channel>,
    /// Every channel is out of rotation: `order` is the one that failed longest ago, tried
    /// anyway.
    pub fallback: bool,
}

/// The attempt order for `channels` given each channel's `health`, at most `budget` long.
pub fn plan<'a, R: Rng + ?Sized>(
    channels: &'a [Channel],
    health: &dyn Fn(&Channel) -> Health,
    budget: usize,
    rng: &mut R,
) -> Plan<'a> {
    let states: Vec<Health> = channels.iter().map(health).collect();
    let usable: Vec<&Channel> = channels.iter().zip(&states).filter(|(_, h)| h.usable()).map(|(c, _)| c).collect();
    if usable.is_empty() {
        // Disabled channels (refused credentials) last: a cooling one may have recovered.
        let oldest = channels.iter().zip(&states).min_by_key(|(_, h)| match h {
            Health::Disabled(at) => (true, *at),
            Health::Out(at) => (false, *at),
            Health::Healthy | Health::Probe => (false, None),
        });
        return Plan { order: oldest.map(|(c, _)| c).into_iter().collect(), fallback: true };
    }
    let mut order = tiered(usable, rng);
    order.truncate(budget.max(1));
    Plan { order, fallback: false }
}

/// Priority tiers ascending, each in weighted random order.
fn tiered<'a, R: Rng + ?Sized>(mut order: Vec<&'a Channel>, rng: &mut R) -> Vec<&'a Channel> {
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

    /// The whole order with every channel healthy.
    fn order<'a>(channels: &'a [Channel], rng: &mut StdRng) -> Vec<&'a Channel> {
        plan(channels, &|_| Health::Healthy, usize::MAX, rng).order
    }

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
            let p = order(&channels, &mut rng);
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
            let labels: Vec<&str> = order(&channels, &mut rng).iter().map(|c| c.label.as_str()).collect();
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
            let p = order(&channels, &mut rng);
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
        let zero_first = (0..2000).filter(|_| order(&channels, &mut rng)[0].label == "zero").count();
        assert!((850..1150).contains(&zero_first), "{zero_first}");
    }

    #[test]
    fn the_same_seed_gives_the_same_order() {
        let channels: Vec<Channel> = (0..6).map(|i| ch(&i.to_string(), i % 2, 1 + i)).collect();
        let once = |seed| order(&channels, &mut StdRng::seed_from_u64(seed)).iter().map(|c| c.label.clone()).collect::<Vec<_>>();
        assert_eq!(once(42), once(42));
        assert!(order(&[], &mut StdRng::seed_from_u64(0)).is_empty());
    }

    #[test]
    fn an_ejected_channel_is_skipped_even_in_the_first_tier() {
        let channels = vec![ch("a", 0, 1000), ch("b", 1, 1), ch("c", 2, 1)];
        let health = |c: &Channel| if c.label == "a" { Health::Out(None) } else { Health::Healthy };
        let mut rng = StdRng::seed_from_u64(5);
        for _ in 0..50 {
            let p = plan(&channels, &health, 5, &mut rng);
            let labels: Vec<&str> = p.order.iter().map(|c| c.label.as_str()).collect();
            assert_eq!((labels.as_slice(), p.fallback), (&["b", "c"][..], false));
        }
        let probe = |c: &Channel| if c.label == "a" { Health::Probe } else { Health::Healthy };
        assert_eq!(plan(&channels, &probe, 5, &mut rng).order[0].label, "a", "a half-open channel keeps its tier");
    }

    #[test]
    fn the_budget_cuts_the_order() {
        let channels: Vec<Channel> = (0..8).map(|i| ch(&i.to_string(), i, 1)).collect();
        let p = plan(&channels, &|_| Health::Healthy, 5, &mut StdRng::seed_from_u64(1));
        let labels: Vec<&str> = p.order.iter().map(|c| c.label.as_str()).collect();
        assert_eq!(labels, ["0", "1", "2", "3", "4"]);
        assert_eq!(plan(&channels, &|_| Health::Healthy, 0, &mut StdRng::seed_from_u64(1)).order.len(), 1);
    }

    #[test]
    fn with_every_channel_out_the_one_that_failed_longest_ago_is_tried_once() {
        let t0 = std::time::Instant::now();
        let at = |s| Some(t0 + std::time::Duration::from_secs(s));
        let channels = vec![ch("recent", 0, 1), ch("old", 1, 1), ch("disabled", 0, 1)];
        let health = |c: &Channel| match c.label.as_str() {
            "recent" => Health::Out(at(20)),
            "old" => Health::Out(at(5)),
            _ => Health::Disabled(at(0)),
        };
        let p = plan(&channels, &health, 5, &mut StdRng::seed_from_u64(1));
        assert!(p.fallback);
        assert_eq!(p.order.iter().map(|c| c.label.as_str()).collect::<Vec<_>>(), ["old"]);
        let all_disabled = |_: &Channel| Health::Disabled(at(1));
        assert_eq!(plan(&channels, &all_disabled, 5, &mut StdRng::seed_from_u64(1)).order.len(), 1);
        assert!(plan(&[], &all_disabled, 5, &mut StdRng::seed_from_u64(1)).order.is_empty());
    }

    proptest! {
        #[test]
        fn every_channel_once_and_tiers_ascending(spec in proptest::collection::vec((0u32..3, 1u32..5), 0..8), seed in any::<u64>()) {
            let channels: Vec<Channel> = spec.iter().enumerate().map(|(i, (p, w))| ch(&i.to_string(), *p, *w)).collect();
            let p = order(&channels, &mut StdRng::seed_from_u64(seed));
            prop_assert_eq!(p.len(), channels.len());
            let mut labels: Vec<_> = p.iter().map(|c| c.label.clone()).collect();
            prop_assert!(p.windows(2).all(|w| w[0].priority <= w[1].priority));
            labels.sort();
            labels.dedup();
            prop_assert_eq!(labels.len(), channels.len());
        }

        #[test]
        fn never_an_unusable_channel_while_a_usable_one_exists(
            spec in proptest::collection::vec((0u32..3, 1u32..5, 0u8..4, 0u64..100), 0..8),
            budget in 1usize..6,
            seed in any::<u64>(),
        ) {
            let t0 = std::time::Instant::now();
            let channels: Vec<Channel> = spec.iter().enumerate().map(|(i, (p, w, _, _))| ch(&i.to_string(), *p, *w)).collect();
            let states: Vec<Health> = spec.iter().map(|(_, _, h, at)| {
                let at = Some(t0 + std::time::Duration::from_secs(*at));
                match h { 0 => Health::Healthy, 1 => Health::Probe, 2 => Health::Out(at), _ => Health::Disabled(at) }
            }).collect();
            let health = |c: &Channel| states[c.label.parse::<usize>().unwrap_or(0)];
            let p = plan(&channels, &health, budget, &mut StdRng::seed_from_u64(seed));
            let usable = states.iter().filter(|h| h.usable()).count();
            if usable > 0 {
                prop_assert!(!p.fallback);
                prop_assert_eq!(p.order.len(), usable.min(budget));
                prop_assert!(p.order.iter().all(|c| health(c).usable()));
                prop_assert!(p.order.windows(2).all(|w| w[0].priority <= w[1].priority));
            } else {
                prop_assert_eq!(p.order.len(), usize::from(!channels.is_empty()));
            }
        }
    }
}
