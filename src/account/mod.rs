//! Keys and accounts. This version knows client keys from the config; accounts, balances and
//! rate limits arrive with the billing issue and live beside [`keys`].

pub mod keys;
