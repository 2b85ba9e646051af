//! Keys and accounts: who is calling ([`service::Accounts::authenticate`] → [`Principal`]) and
//! whether their limits admit the request ([`service::Accounts::admit`]). Config keys and
//! store keys (created through the admin and client APIs) meet here.

pub mod principal;
pub mod secret;
pub mod service;

pub use principal::{AuthError, Principal};
pub use service::{Accounts, AdmitError, AdmitRequest, Admitted, Billed, RateHeaders, Refusal};
