//! Talking to providers: where a provider lives ([`target`]), resolving its host without
//! blocking ([`dns`]), and one HTTP exchange over Pingora's pooled connector with deadlines
//! ([`exchange`]), classified into retry-or-not outcomes ([`outcome`]).

pub mod balance;
pub mod dns;
pub mod exchange;
pub mod guard;
pub mod media;
pub mod outcome;
pub mod pool;
pub mod target;
