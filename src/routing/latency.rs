//! The measured time to first token of each model, as an exponentially weighted moving
//! average, kept in memory by each gateway instance for `auto`'s `fastest` and `weighted`
//! policies.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

/// The weight of a new measurement: recent answers dominate within about ten requests.
const ALPHA: f64 = 0.3;

/// Moving averages of time to first token by public model id. Only configured ids are
/// recorded, so the map stays as small as the config.
#[derive(Debug, Default)]
pub struct LatencyBoard {
    ewma_ms: RwLock<HashMap<String, f64>>,
}

impl LatencyBoard {
    /// Folds one answered request's time to first token into `model`'s average.
    pub fn observe(&self, model: &str, ttft: Duration) {
        let ms = ttft.as_secs_f64() * 1000.0;
        let mut map = self.ewma_ms.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        match map.get_mut(model) {
            Some(avg) => *avg = ALPHA * ms + (1.0 - ALPHA) * *avg,
            None => {
                map.insert(model.to_owned(), ms);
            }
        }
    }

    /// `model`'s average in ms; `None` before its first answer.
    pub fn ttft_ms(&self, model: &str) -> Option<f64> {
        self.ewma_ms.read().unwrap_or_else(|poisoned| poisoned.into_inner()).get(model).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_measure_is_taken_as_is_then_averaged() {
        let board = LatencyBoard::default();
        assert_eq!(board.ttft_ms("m"), None);
        board.observe("m", Duration::from_millis(100));
        assert_eq!(board.ttft_ms("m"), Some(100.0));
        board.observe("m", Duration::from_millis(200));
        let avg = board.ttft_ms("m").unwrap();
        assert!((avg - 130.0).abs() < 1e-9, "{avg}");
        assert_eq!(board.ttft_ms("other"), None);
    }
}
