//! Counting tokens locally (for count-tokens endpoints answered without an upstream call, and
//! for estimating usage when an upstream reports none) and turning usage into money.

pub mod cost;
pub mod tokenizer;
