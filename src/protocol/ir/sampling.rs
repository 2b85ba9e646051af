//! Dropping the sampling fields a model refuses (config `models[].capabilities.rejects`), in
//! hub terms, so every converter honours the list the same way.

use super::{ConvertOptions, Request, SamplingField, Warning};

/// Why a capability drop happened, as the log and warning say.
const REASON: &str = "the model does not accept this sampling field";

/// True when `req` sets `field`.
fn present(req: &Request, field: SamplingField) -> bool {
    match field {
        SamplingField::Temperature => req.temperature.is_some(),
        SamplingField::TopP => req.top_p.is_some(),
        SamplingField::TopK => req.top_k.is_some(),
        SamplingField::Seed => req.seed.is_some(),
        SamplingField::PresencePenalty => req.presence_penalty.is_some(),
        SamplingField::FrequencyPenalty => req.frequency_penalty.is_some(),
        SamplingField::Stop => !req.stop.is_empty(),
    }
}

fn clear(req: &mut Request, field: SamplingField) {
    match field {
        SamplingField::Temperature => req.temperature = None,
        SamplingField::TopP => req.top_p = None,
        SamplingField::TopK => req.top_k = None,
        SamplingField::Seed => req.seed = None,
        SamplingField::PresencePenalty => req.presence_penalty = None,
        SamplingField::FrequencyPenalty => req.frequency_penalty = None,
        SamplingField::Stop => req.stop.clear(),
    }
}

/// True when `req` sets a field the model refuses (so the caller only clones when needed).
pub fn has_rejected_sampling(req: &Request, opts: &ConvertOptions) -> bool {
    opts.rejected_sampling.iter().any(|f| present(req, *f))
}

/// Clears every field of `req` the model refuses, one warning per field that was set.
pub fn drop_rejected_sampling(req: &mut Request, opts: &ConvertOptions, warnings: &mut Vec<Warning>) {
    for field in &opts.rejected_sampling {
        if present(req, *field) {
            clear(req, *field);
            warnings.push(Warning::SamplingFieldDropped { field: *field, reason: REASON });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refused_fields_that_were_set_are_dropped_with_a_warning() {
        let mut req = Request { temperature: Some(0.0), top_p: Some(0.5), seed: Some(1), ..Default::default() };
        let opts = ConvertOptions::for_model(None, &[SamplingField::Temperature, SamplingField::TopK, SamplingField::Seed]);
        assert!(has_rejected_sampling(&req, &opts));
        let mut w = Vec::new();
        drop_rejected_sampling(&mut req, &opts, &mut w);
        assert_eq!((req.temperature, req.top_p, req.seed), (None, Some(0.5), None));
        let codes: Vec<_> = w.iter().map(|w| (w.code(), w.field())).collect();
        assert_eq!(codes, vec![("sampling_field_dropped", Some("temperature")), ("sampling_field_dropped", Some("seed"))]);
        assert!(!has_rejected_sampling(&req, &opts));
    }

    #[test]
    fn every_field_can_be_dropped() {
        let mut req = Request {
            temperature: Some(1.0),
            top_p: Some(1.0),
            top_k: Some(1),
            seed: Some(1),
            presence_penalty: Some(0.1),
            frequency_penalty: Some(0.1),
            stop: vec!["x".into()],
            ..Default::default()
        };
        let opts = ConvertOptions::for_model(None, &SamplingField::ALL);
        let mut w = Vec::new();
        drop_rejected_sampling(&mut req, &opts, &mut w);
        assert_eq!(w.len(), SamplingField::ALL.len());
        assert_eq!(req, Request::default());
    }
}
