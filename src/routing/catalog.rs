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
