//! The one place shared state lives. This version keeps it in memory, per instance; the Redis
//! store (limits, balances, ledger shared by several instances) comes with the accounts issue.

pub mod signatures;
