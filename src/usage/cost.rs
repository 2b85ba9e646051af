//! What a request costs: prices × usage in exact integer [`Money`], and the worst case that
//! admission reserves before anything is sent upstream.
//!
//! Each usage bucket has its own price ([`Usage`]'s buckets are disjoint, so no token is
//! charged twice): cache reads at `cache_read`, cache writes at their lifetime's price,
//! reasoning at `reasoning`, the rest of the output at `output`. Unset prices fall back as the
//! config documents (`reasoning` → `output`, cache prices → `input`).

use crate::config::{Money, Price, PricePerMillion};
use crate::protocol::usage::Usage;

/// The cost of `usage` (plus `images` generated) at `price`, one `per_request` charge included.
pub fn cost(price: &Price, usage: &Usage, images: u64) -> Money {
    let t = Money::for_tokens;
    let input = price.input;
    let write_default = price.cache_write.unwrap_or(input);
    let plain_output = usage.out_total.saturating_sub(usage.out_reasoning);
    t(input, usage.in_base + usage.in_tool_use)
        + t(price.cache_read.unwrap_or(input), usage.in_cache_read)
        + t(price.cache_write_5m.unwrap_or(write_default), usage.in_cache_write_5m)
        + t(price.cache_write_1h.unwrap_or(write_default), usage.in_cache_write_1h)
        + t(write_default, usage.in_cache_write_other)
        + t(price.output, plain_output)
        + t(price.reasoning.unwrap_or(price.output), usage.out_reasoning)
        + fixed(price, images)
}

/// The most a request can cost: every prompt token at the dearest input-side price, every
/// output token up to the cap at the dearer of `output` and `reasoning`, and the fixed charges.
pub fn worst_case(price: &Price, prompt_tokens: u64, max_output_tokens: u64, images: u64) -> Money {
    let dearest_input = [price.cache_read, price.cache_write, price.cache_write_5m, price.cache_write_1h]
        .into_iter()
        .flatten()
        .fold(price.input, PricePerMillion::max);
    let dearest_output = price.reasoning.map_or(price.output, |r| r.max(price.output));
    Money::for_tokens(dearest_input, prompt_tokens) + Money::for_tokens(dearest_output, max_output_tokens) + fixed(price, images)
}

fn fixed(price: &Price, images: u64) -> Money {
    price.per_request.map_or(Money::ZERO, |p| Money::for_items(p, 1))
        + price.per_image.map_or(Money::ZERO, |p| Money::for_items(p, images))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> PricePerMillion {
        s.parse().unwrap_or_default()
    }

    fn price() -> Price {
        Price {
            input: p("3"),
            output: p("15"),
            cache_read: Some(p("0.3")),
            cache_write: None,
            cache_write_5m: Some(p("3.75")),
            cache_write_1h: Some(p("6")),
            reasoning: None,
            per_request: Some(p("0.001")),
            per_image: None,
        }
    }

    #[test]
    fn each_bucket_has_its_price() {
        let usage = Usage {
            in_base: 1000,
            in_cache_read: 2000,
            in_cache_write_5m: 100,
            in_cache_write_1h: 10,
            out_total: 500,
            out_reasoning: 200,
            ..Usage::default()
        };
        // 1000×3 + 2000×0.3 + 100×3.75 + 10×6 + 300×15 + 200×15 (reasoning defaults to output)
        // micro-USD per 1M tokens = 11535 micro × 10^-6 … plus $0.001 per request.
        assert_eq!(cost(&price(), &usage, 0).usd(), "0.012535");
        let with_reasoning = Price { reasoning: Some(p("60")), ..price() };
        assert_eq!(cost(&with_reasoning, &usage, 0).usd(), "0.021535");
    }

    #[test]
    fn worst_case_bounds_every_split_of_the_same_tokens() {
        let pr = Price { reasoning: Some(p("60")), ..price() };
        let worst = worst_case(&pr, 3000, 500, 0);
        let splits = [
            Usage { in_base: 3000, out_total: 500, ..Usage::default() },
            Usage { in_cache_write_1h: 3000, out_total: 500, out_reasoning: 500, ..Usage::default() },
            Usage { in_cache_read: 1500, in_cache_write_5m: 1500, out_total: 500, out_reasoning: 100, ..Usage::default() },
        ];
        for u in splits {
            assert!(cost(&pr, &u, 0) <= worst, "{u:?}");
        }
        assert_eq!(worst, cost(&pr, &splits[1], 0));
    }

    #[test]
    fn per_image_and_scaled_prices() {
        let pr = Price { per_image: Some(p("0.04")), per_request: None, ..price() };
        assert_eq!(cost(&pr, &Usage::default(), 3).usd(), "0.12");
        let vip = pr.scaled(800_000);
        assert_eq!(vip.input, p("2.4"));
        assert_eq!(cost(&vip, &Usage::default(), 3).usd(), "0.096");
    }
}
