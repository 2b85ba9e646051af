//! The public model catalogue: ids and aliases resolved to their channels.

use crate::protocol::listing::ModelKind;
use std::collections::HashMap;
use std::sync::Arc;

/// One way to serve a model: a provider (by index into the snapshot's providers) and the
/// model id that provider knows it by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Channel {
    /// Index of the provider in the runtime snapshot.
    pub provider: usize,
    /// The provider's name, for metrics and messages.
    pub provider_name: String,
    /// The model id sent upstream.
    pub upstream_model: String,
    /// Lower is tried first.
    pub priority: u32,
    /// Share of traffic inside a priority tier.
    pub weight: u32,
    /// A stable label `provider/model#n` for metrics and logs.
    pub label: String,
    /// The public id of the model this channel serves: a plan that crosses models (fallback
    /// lists, `auto`) still knows which model answered.
    pub public_model: Arc<str>,
}

/// A public model and its channels.
#[derive(Clone, Debug)]
pub struct ModelRoute {
    /// The public id clients see in responses.
    pub id: String,
    /// Other names that resolve to this model.
    pub aliases: Vec<String>,
    /// Every channel, in config order.
    pub channels: Vec<Channel>,
    /// Which operations it serves.
    pub kind: ModelKind,
    /// Its position in the config's model list (for what only the config holds).
    pub index: usize,
}

/// Lookup from every public name (id or alias) to its route.
#[derive(Clone, Debug, Default)]
pub struct Catalog {
    by_name: HashMap<String, Arc<ModelRoute>>,
    in_order: Vec<Arc<ModelRoute>>,
}

impl Catalog {
    /// Builds the catalogue; names are unique (config validation guarantees it).
    pub fn new(routes: Vec<ModelRoute>) -> Self {
        let mut catalog = Catalog::default();
        for route in routes {
            let route = Arc::new(route);
            catalog.by_name.insert(route.id.clone(), route.clone());
            for alias in &route.aliases {
                catalog.by_name.insert(alias.clone(), route.clone());
            }
            catalog.in_order.push(route);
        }
        catalog
    }

    /// The route for a public id or alias.
    pub fn resolve(&self, name: &str) -> Option<&Arc<ModelRoute>> {
        self.by_name.get(name)
    }

    /// The route a client means by `name`: a public id or alias first (so an alias containing
    /// a slash keeps precedence), else `provider/model`, the model (id or alias) restricted to
    /// that provider's channels. `None` when unknown or the provider does not serve it.
    pub fn lookup(&self, name: &str) -> Option<Arc<ModelRoute>> {
        if let Some(route) = self.by_name.get(name) {
            return Some(route.clone());
        }
        let (provider, model) = name.split_once('/')?;
        let route = self.by_name.get(model)?;
        let channels: Vec<Channel> = route.channels.iter().filter(|c| c.provider_name == provider).cloned().collect();
        if channels.is_empty() {
            return None;
        }
        Some(Arc::new(ModelRoute { channels, ..(**route).clone() }))
    }

    /// Every model in config order (for `GET /v1/models`).
    pub fn models(&self) -> &[Arc<ModelRoute>] {
        &self.in_order
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(id: &str, aliases: &[&str], channels: usize) -> ModelRoute {
        let channels = (0..channels)
            .map(|n| Channel {
                provider: n,
                provider_name: format!("p{n}"),
                upstream_model: format!("{id}-up"),
                priority: 0,
                weight: 1,
                label: format!("p{n}/{id}-up#{n}"),
                public_model: id.into(),
            })
            .collect();
        ModelRoute {
            id: id.into(),
            aliases: aliases.iter().map(|a| (*a).to_owned()).collect(),
            channels,
            kind: ModelKind::Chat,
            index: 0,
        }
    }

    fn catalog() -> Catalog {
        Catalog::new(vec![route("gpt-x", &["vendor/gpt-x", "x"], 2), route("claude-y", &[], 1)])
    }

    #[test]
    fn ids_and_aliases_resolve_to_the_same_route() {
        let c = catalog();
        let by_id = c.resolve("gpt-x").map(Arc::as_ptr);
        assert!(by_id.is_some());
        assert_eq!(c.resolve("vendor/gpt-x").map(Arc::as_ptr), by_id);
        assert_eq!(c.resolve("x").map(Arc::as_ptr), by_id);
        assert_eq!(c.resolve("x").map(|r| r.id.as_str()), Some("gpt-x"), "an alias answers with the public id");
        assert_eq!(c.resolve("claude-y").map(|r| r.channels.len()), Some(1));
    }

    #[test]
    fn names_are_exact() {
        // Provider model ids are case-sensitive, so a near miss is unknown rather than guessed.
        let c = catalog();
        assert!(c.resolve("GPT-X").is_none());
        assert!(c.resolve("gpt-x ").is_none());
        assert!(c.resolve("vendor/").is_none());
        assert!(c.resolve("").is_none());
    }

    #[test]
    fn provider_scoped_names_keep_only_that_providers_channels() {
        let c = catalog();
        let scoped = c.lookup("p1/gpt-x").map(|r| (r.id.clone(), r.channels.iter().map(|ch| ch.provider).collect::<Vec<_>>()));
        assert_eq!(scoped, Some(("gpt-x".to_owned(), vec![1])), "the public id answers, only p1's channel");
        assert_eq!(c.lookup("p0/x").map(|r| r.channels.len()), Some(1), "an alias after the provider works too");
        assert!(c.lookup("p1/claude-y").is_none(), "p1 does not serve claude-y");
        assert!(c.lookup("nobody/gpt-x").is_none());
        assert!(c.lookup("p0/").is_none());
        // An alias with a slash is resolved before any provider split.
        assert_eq!(c.lookup("vendor/gpt-x").map(|r| r.channels.len()), Some(2));
    }

    #[test]
    fn listing_keeps_config_order_and_lists_each_model_once() {
        let c = catalog();
        let ids: Vec<&str> = c.models().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["gpt-x", "claude-y"]);
        assert!(Catalog::default().models().is_empty());
    }
}
