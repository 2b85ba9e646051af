//! Anthropic Messages wire types and their conversions to and from the hub ([`super::ir`]).
