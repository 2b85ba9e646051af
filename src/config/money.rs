//! Prices as exact integers.
//!
//! Money is never a float in Switchyard: billing multiplies prices by token counts and sums
//! them over millions of requests, and float rounding there turns into charges nobody can
//! explain. The config states prices in USD per 1M tokens as decimals (`0.075`), so this module
//! turns that decimal text into an integer count of micro-USD without ever rounding.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserialize, Deserializer, Visitor};

/// Micro-USD in one USD: prices carry at most six decimal places.
const MICROS_PER_USD: u64 = 1_000_000;
/// How many decimal places a price may have; one micro-USD is the smallest step.
const MAX_DECIMALS: usize = 6;

/// A price in integer **micro-USD per 1M tokens** (`0.15` USD/1M tokens is `150_000`).
///
/// Kept as an integer so billing stays exact; converting to a per-token unit is the account
/// module's job and happens once, in integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct PricePerMillion(pub u64);

impl PricePerMillion {
    /// The price in micro-USD per 1M tokens.
    pub fn micro_usd(self) -> u64 {
        self.0
    }
}

impl fmt::Display for PricePerMillion {
    /// Prints the price back as a decimal USD amount (`0.075`), the way the config writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = self.0 / MICROS_PER_USD;
        let frac = self.0 % MICROS_PER_USD;
        if frac == 0 {
            return write!(f, "{whole}");
        }
        let digits = format!("{frac:06}");
        write!(f, "{whole}.{}", digits.trim_end_matches('0'))
    }
}

/// Why a price could not be read; the caller adds the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PriceError {
    /// Prices are charges, so a negative one makes no sense.
    #[error("price must not be negative (got {0})")]
    Negative(String),
    /// Finer than one micro-USD per 1M tokens cannot be represented exactly.
    #[error("price has more than 6 decimal places (got {0}); the smallest step is 0.000001 USD per 1M tokens")]
    TooPrecise(String),
    /// Too large for a u64 count of micro-USD.
    #[error("price is too large (got {0})")]
    TooLarge(String),
    /// Anything that is not a plain decimal: NaN, infinity, exponents, stray characters.
    #[error("price must be a decimal number of USD per 1M tokens like 0.15 (got {0:?})")]
    NotADecimal(String),
}

impl FromStr for PricePerMillion {
    type Err = PriceError;

    /// Parses a plain decimal (`2`, `0.075`, `1.250000`) digit by digit, so nothing is rounded.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let s = text.trim();
        if s.starts_with('-') {
            return Err(PriceError::Negative(s.to_owned()));
        }
        let s_unsigned = s.strip_prefix('+').unwrap_or(s);
        let (whole, frac) = match s_unsigned.split_once('.') {
            Some((w, f)) => (w, f),
            None => (s_unsigned, ""),
        };
        let all_digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
        // "1." and ".5" are what a human means; "." alone is nothing.
        if (whole.is_empty() && frac.is_empty()) || !all_digits(whole) || !all_digits(frac) {
            return Err(PriceError::NotADecimal(s.to_owned()));
        }
        // Trailing zeros add no precision, so `0.1500000` is still fine.
        let frac = frac.trim_end_matches('0');
        if frac.len() > MAX_DECIMALS {
            return Err(PriceError::TooPrecise(s.to_owned()));
        }
        let too_large = || PriceError::TooLarge(s.to_owned());
        let whole_value = if whole.is_empty() { 0 } else { whole.parse::<u64>().map_err(|_| too_large())? };
        let frac_value = if frac.is_empty() {
            0
        } else {
            // Pad on the right: ".5" is 500_000 micro-USD, not 5.
            format!("{frac:0<width$}", width = MAX_DECIMALS)
                .parse::<u64>()
                .map_err(|_| PriceError::NotADecimal(s.to_owned()))?
        };
        whole_value
            .checked_mul(MICROS_PER_USD)
            .and_then(|micros| micros.checked_add(frac_value))
            .map(PricePerMillion)
            .ok_or_else(too_large)
    }
}

impl<'de> Deserialize<'de> for PricePerMillion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PriceVisitor)
    }
}

/// Accepts YAML integers, floats and strings.
///
/// The YAML parser hands `0.075` over as an `f64`, so the exact decimal the user typed is gone
/// by the time we see it. It can be recovered: Rust's `Display` for `f64` prints the *shortest*
/// decimal that parses back to the same `f64`, and never uses exponent notation. Any decimal
/// with at most 15 significant digits survives text → f64 → shortest text unchanged, and every
/// price with up to 6 decimals and a whole part below 10^9 USD is within that. So `0.075` comes
/// back as `"0.075"`, which is then parsed digit by digit. Values beyond 15 significant digits
/// may come back different from what was typed; write those as strings (`"1234567890.123456"`).
struct PriceVisitor;

impl Visitor<'_> for PriceVisitor {
    type Value = PricePerMillion;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a price in USD per 1M tokens, like 0.15 or \"0.15\"")
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        v.checked_mul(MICROS_PER_USD)
            .map(PricePerMillion)
            .ok_or_else(|| E::custom(PriceError::TooLarge(v.to_string())))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        match u64::try_from(v) {
            Ok(v) => self.visit_u64(v),
            Err(_) => Err(E::custom(PriceError::Negative(v.to_string()))),
        }
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        // `{}` on f64 is the shortest round-trip form and never an exponent (see above);
        // NaN and inf print as "NaN"/"inf" and are rejected by the decimal parser.
        format!("{v}").parse().map_err(E::custom)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        v.parse().map_err(E::custom)
    }
}

/// Units of [`Money`] in one USD: 10^12.
pub const UNITS_PER_USD: i128 = 1_000_000_000_000;
/// Decimal places of a USD amount written in [`Money`] units.
const UNIT_DECIMALS: usize = 12;

/// An amount of money as an integer count of 10^-12 USD.
///
/// The unit is chosen so that a price with up to 6 decimals per 1M tokens times a token count
/// is a whole number of units (micro-USD per 1M tokens × tokens = 10^-12 USD), so charges,
/// balances and ledgers are exact: nothing is rounded until an amount is shown. An `i128` holds
/// far more than $10M per account (`i64` would stop at $9.2M).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Money(pub i128);

/// Why an amount of money could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// Not a plain decimal such as `10.00` or `-0.5`.
    #[error("amount must be a decimal number of USD like \"10.00\" (got {0:?})")]
    NotADecimal(String),
    /// Finer than 10^-12 USD.
    #[error("amount has more than 12 decimal places (got {0})")]
    TooPrecise(String),
    /// Beyond what the ledger holds.
    #[error("amount is too large (got {0})")]
    TooLarge(String),
}

impl Money {
    /// Nothing.
    pub const ZERO: Money = Money(0);

    /// `price` (micro-USD per 1M tokens) times `tokens`: exact by the choice of unit.
    pub fn for_tokens(price: PricePerMillion, tokens: u64) -> Money {
        Money(i128::from(price.0) * i128::from(tokens))
    }

    /// `price` read as micro-USD per item (per request, per image) times `count`.
    pub fn for_items(price: PricePerMillion, count: u64) -> Money {
        Money(i128::from(price.0) * 1_000_000 * i128::from(count))
    }

    /// The amount in units.
    pub fn units(self) -> i128 {
        self.0
    }

    /// The exact USD decimal: at least two decimals, trailing zeros after them dropped
    /// (`10.00`, `0.000123`, `-1.50`).
    pub fn usd(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let per = UNITS_PER_USD.unsigned_abs();
        let (whole, frac) = (abs / per, abs % per);
        let digits = format!("{frac:012}");
        let trimmed = digits.trim_end_matches('0');
        let shown = if trimmed.len() < 2 { &digits[..2] } else { trimmed };
        format!("{sign}{whole}.{shown}")
    }

    /// Parses a USD decimal (`10`, `10.00`, `-0.25`, at most 12 decimals) without rounding.
    ///
    /// # Errors
    /// [`MoneyError`] says what is wrong with the text.
    pub fn parse_usd(text: &str) -> Result<Money, MoneyError> {
        let s = text.trim();
        let (negative, unsigned) = match s.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, s.strip_prefix('+').unwrap_or(s)),
        };
        let (whole, frac) = unsigned.split_once('.').unwrap_or((unsigned, ""));
        let digits = |p: &str| p.bytes().all(|b| b.is_ascii_digit());
        if (whole.is_empty() && frac.is_empty()) || !digits(whole) || !digits(frac) {
            return Err(MoneyError::NotADecimal(s.to_owned()));
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > UNIT_DECIMALS {
            return Err(MoneyError::TooPrecise(s.to_owned()));
        }
        let too_large = || MoneyError::TooLarge(s.to_owned());
        // 10^18 USD is far beyond any balance and keeps every sum well inside i128.
        if whole.trim_start_matches('0').len() > 18 {
            return Err(too_large());
        }
        let whole_value: i128 = if whole.is_empty() { 0 } else { whole.parse().map_err(|_| too_large())? };
        let frac_value: i128 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<UNIT_DECIMALS$}").parse().map_err(|_| MoneyError::NotADecimal(s.to_owned()))?
        };
        let units = whole_value * UNITS_PER_USD + frac_value;
        Ok(Money(if negative { -units } else { units }))
    }
}

impl std::ops::Add for Money {
    type Output = Money;
    fn add(self, rhs: Money) -> Money {
        Money(self.0 + rhs.0)
    }
}

impl std::ops::Sub for Money {
    type Output = Money;
    fn sub(self, rhs: Money) -> Money {
        Money(self.0 - rhs.0)
    }
}

impl std::iter::Sum for Money {
    fn sum<I: Iterator<Item = Money>>(iter: I) -> Money {
        Money(iter.map(|m| m.0).sum())
    }
}

impl fmt::Display for Money {
    /// The integer count of units: the form stores and scripts exchange.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl FromStr for Money {
    type Err = MoneyError;

    /// Reads the integer count of units written by `Display`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.trim().parse::<i128>().map(Money).map_err(|_| MoneyError::NotADecimal(s.to_owned()))
    }
}

impl serde::Serialize for Money {
    /// Units as a decimal string: JSON numbers are doubles in most readers.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Money {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(de::Error::custom)
    }
}

/// A USD amount written in the config or an API as a decimal (`"25.00"`), held as [`Money`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct UsdAmount(pub Money);

impl<'de> Deserialize<'de> for UsdAmount {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = UsdAmount;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a USD amount like \"25.00\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<UsdAmount, E> {
                Ok(UsdAmount(Money(i128::from(v) * UNITS_PER_USD)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<UsdAmount, E> {
                Ok(UsdAmount(Money(i128::from(v) * UNITS_PER_USD)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<UsdAmount, E> {
                Money::parse_usd(&format!("{v}")).map(UsdAmount).map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<UsdAmount, E> {
                Money::parse_usd(v).map(UsdAmount).map_err(E::custom)
            }
        }
        deserializer.deserialize_any(V)
    }
}

impl serde::Serialize for UsdAmount {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0.usd())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn from_yaml(text: &str) -> Result<PricePerMillion, String> {
        serde_yaml_ng::from_str::<PricePerMillion>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn parses_decimal_strings_exactly() {
        assert_eq!("0.075".parse(), Ok(PricePerMillion(75_000)));
        assert_eq!("0.15".parse(), Ok(PricePerMillion(150_000)));
        assert_eq!("2".parse(), Ok(PricePerMillion(2_000_000)));
        assert_eq!("1.25".parse(), Ok(PricePerMillion(1_250_000)));
        assert_eq!("0.000001".parse(), Ok(PricePerMillion(1)));
        assert_eq!("1.2500000".parse(), Ok(PricePerMillion(1_250_000)));
        assert_eq!(".5".parse(), Ok(PricePerMillion(500_000)));
        assert_eq!("3.".parse(), Ok(PricePerMillion(3_000_000)));
        assert_eq!("0".parse(), Ok(PricePerMillion(0)));
    }

    #[test]
    fn rejects_what_is_not_an_exact_price() {
        let parse = |s: &str| s.parse::<PricePerMillion>();
        assert!(matches!(parse("0.0000001"), Err(PriceError::TooPrecise(_))));
        assert!(matches!(parse("-0.5"), Err(PriceError::Negative(_))));
        assert!(matches!(parse("NaN"), Err(PriceError::NotADecimal(_))));
        assert!(matches!(parse("inf"), Err(PriceError::NotADecimal(_))));
        assert!(matches!(parse("1e-3"), Err(PriceError::NotADecimal(_))));
        assert!(matches!(parse("."), Err(PriceError::NotADecimal(_))));
        assert!(matches!(parse(""), Err(PriceError::NotADecimal(_))));
        assert!(matches!(parse("1,5"), Err(PriceError::NotADecimal(_))));
        assert!(matches!(parse("18446744073710"), Err(PriceError::TooLarge(_))));
    }

    #[test]
    fn yaml_numbers_are_exact() {
        assert_eq!(from_yaml("0.075"), Ok(PricePerMillion(75_000)));
        assert_eq!(from_yaml("0.15"), Ok(PricePerMillion(150_000)));
        assert_eq!(from_yaml("0.60"), Ok(PricePerMillion(600_000)));
        assert_eq!(from_yaml("2"), Ok(PricePerMillion(2_000_000)));
        assert_eq!(from_yaml("2.0"), Ok(PricePerMillion(2_000_000)));
        assert_eq!(from_yaml("\"1.25\""), Ok(PricePerMillion(1_250_000)));
        assert_eq!(from_yaml("0.1"), Ok(PricePerMillion(100_000)));
        assert_eq!(from_yaml("0.3"), Ok(PricePerMillion(300_000)));
    }

    #[test]
    fn yaml_rejects_negative_nan_and_too_precise() {
        assert!(from_yaml("-1").unwrap_err().contains("negative"));
        assert!(from_yaml("-0.5").unwrap_err().contains("negative"));
        assert!(from_yaml(".nan").unwrap_err().contains("decimal number"));
        assert!(from_yaml(".inf").unwrap_err().contains("decimal number"));
        assert!(from_yaml("0.0000001").unwrap_err().contains("6 decimal places"));
    }

    #[test]
    fn display_round_trips() {
        for text in ["0.075", "0.15", "2", "1.25", "0.000001", "123.456789"] {
            let price: PricePerMillion = text.parse().unwrap();
            assert_eq!(price.to_string(), text);
        }
    }

    proptest! {
        #[test]
        fn padded_decimal_string_is_exact(a in 0u64..=(u64::MAX / MICROS_PER_USD - 1), b in 0u64..MICROS_PER_USD) {
            let text = format!("{a}.{b:06}");
            prop_assert_eq!(text.parse::<PricePerMillion>(), Ok(PricePerMillion(a * MICROS_PER_USD + b)));
        }

        /// The f64 route is exact for every price up to 10^9 USD with six decimals (15
        /// significant digits), which is what the visitor's documentation promises.
        #[test]
        fn yaml_float_is_exact_within_15_digits(a in 0u64..1_000_000_000, b in 0u64..MICROS_PER_USD) {
            let text = format!("{a}.{b:06}");
            prop_assert_eq!(from_yaml(&text), Ok(PricePerMillion(a * MICROS_PER_USD + b)));
        }
    }

    #[test]
    fn money_is_exact_near_ten_million() {
        // $10M balance minus the smallest charge a 6-decimal price makes, and back.
        let ten_m = Money::parse_usd("10000000").unwrap();
        assert_eq!(ten_m.units(), 10_000_000 * UNITS_PER_USD);
        let tiny = Money::for_tokens(PricePerMillion(1), 1);
        assert_eq!(tiny, Money(1));
        assert_eq!((ten_m - tiny).usd(), "9999999.999999999999");
        assert_eq!((ten_m - tiny + tiny), ten_m);
        // 1M tokens at $123.456789 per 1M is exactly $123.456789.
        let price: PricePerMillion = "123.456789".parse().unwrap();
        assert_eq!(Money::for_tokens(price, 1_000_000).usd(), "123.456789");
        assert_eq!(Money::for_tokens(price, 7).usd(), "0.000864197523");
        assert_eq!(Money::for_items("0.01".parse().unwrap(), 3).usd(), "0.03");
    }

    #[test]
    fn usd_text_round_trips() {
        for (text, shown) in
            [("10", "10.00"), ("10.00", "10.00"), ("0.5", "0.50"), ("-1.25", "-1.25"), ("0.000000000001", "0.000000000001")]
        {
            assert_eq!(Money::parse_usd(text).unwrap().usd(), shown);
        }
        assert!(matches!(Money::parse_usd("0.0000000000001"), Err(MoneyError::TooPrecise(_))));
        assert!(matches!(Money::parse_usd("1e3"), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Money::parse_usd(""), Err(MoneyError::NotADecimal(_))));
        assert!(matches!(Money::parse_usd("1234567890123456789012"), Err(MoneyError::TooLarge(_))));
        assert_eq!("-42".parse::<Money>().unwrap(), Money(-42));
        assert_eq!(serde_json::to_string(&Money(5)).unwrap(), "\"5\"");
    }

    proptest! {
        #[test]
        fn usd_parse_display_is_identity(units in -(10_000_000 * UNITS_PER_USD)..(10_000_000 * UNITS_PER_USD)) {
            prop_assert_eq!(Money::parse_usd(&Money(units).usd()), Ok(Money(units)));
        }
    }
}
