//! Counting tokens locally: for count-tokens endpoints answered without an upstream call, and
//! (with the billing issue) for estimating usage when an upstream reports none.

pub mod tokenizer;
