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
    fn listing_keeps_config_order_and_lists_each_model_once() {
        let c = catalog();
        let ids: Vec<&str> = c.models().iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids, ["gpt-x", "claude-y"]);
        assert!(Catalog::default().models().is_empty());
    }
}
