//! End-to-end tests of `parse`: defaults, the example file, and every validation rule with the
//! exact field path it reports.

use std::time::Duration;

use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "DEMO_KEY" => Some("sk-demo-123".to_owned()),
        "OPENAI_API_KEY" => Some("sk-openai-secret".to_owned()),
        "BACKUP_API_KEY" => Some("sk-backup-secret".to_owned()),
        "ANTHROPIC_API_KEY" => Some("sk-ant-secret".to_owned()),
        "SWITCHYARD_ADMIN_TOKEN" => Some("admin-secret".to_owned()),
        "EMPTY" => Some(String::new()),
        _ => None,
    }
}

const PROVIDERS: &str = r#"
providers:
  - { name: openai, protocol: openai, base_url: "https://api.openai.com/v1", api_key: sk-x }
"#;
const MODELS: &str = r#"
models:
  - id: m
    channels:
      - { provider: openai, model: m }
"#;
const KEYS: &str = r#"
keys:
  - { name: demo, key: k1 }
"#;

/// A valid config with `head` (top-level settings) and any of the three lists replaced.
fn doc(head: &str, providers: Option<&str>, models: Option<&str>, keys: Option<&str>) -> String {
    format!(
        "listen: 127.0.0.1:8080\n{head}\n{}\n{}\n{}\n",
        providers.unwrap_or(PROVIDERS),
        models.unwrap_or(MODELS),
        keys.unwrap_or(KEYS)
    )
}

fn ok(text: &str) -> Config {
    match parse(text, &env) {
        Ok(config) => config,
        Err(err) => panic!("expected a valid config, got: {err}\n---\n{text}"),
    }
}

fn err(text: &str) -> String {
    match parse(text, &env) {
        Ok(config) => panic!("expected an error, got {config:?}\n---\n{text}"),
        Err(err) => err.to_string(),
    }
}

fn assert_err(text: &str, expected: &str) {
    assert_eq!(err(text), expected, "\n---\n{text}");
}

fn assert_err_starts(text: &str, expected: &str) {
    let got = err(text);
    assert!(got.starts_with(expected), "got {got:?}, expected it to start with {expected:?}");
}

#[test]
fn example_file_parses() {
    let config = ok(include_str!("../../conf/switchyard.example.yaml"));
    assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.admin.listen.to_string(), "127.0.0.1:9090");
    assert_eq!(config.admin.token.as_ref().map(Secret::expose), Some("admin-secret"));
    assert_eq!(config.store, StoreConfig::Memory);
    assert_eq!(config.providers.len(), 3);
    assert_eq!(config.provider("anthropic").unwrap().protocol, Protocol::Anthropic);
    assert!(config.provider("openai").unwrap().responses);
    let backup = config.provider("backup").unwrap();
    assert_eq!(backup.api_key.expose(), "sk-backup-secret");
    assert_eq!(backup.timeouts.first_byte, Duration::from_secs(90));
    assert_eq!(backup.timeouts.connect, Duration::from_secs(5));
    let mini = config.model_by_name("openai/gpt-4o-mini").unwrap();
    assert_eq!(mini.id, "gpt-4o-mini");
    let price = mini.price.as_ref().unwrap();
    assert_eq!(price.input, PricePerMillion(150_000));
    assert_eq!(price.output, PricePerMillion(600_000));
    assert_eq!(price.cache_read, Some(PricePerMillion(75_000)));
    assert_eq!(price.cache_write, None);
    assert_eq!(mini.max_output_tokens, Some(16384));
    assert!(mini.capabilities.rejects.is_empty());
    assert_eq!(mini.channels[0].weight, 3);
    assert_eq!(mini.channels[1].priority, 1);
    let gpt4o = config.model_by_name("gpt-4o").unwrap();
    assert_eq!(gpt4o.price.as_ref().unwrap().output, PricePerMillion(10_000_000));
    assert_eq!(config.keys.len(), 3);
    assert_eq!(config.keys[0].digest(), KeyEntry::digest_of("sk-demo-123"));
    assert_eq!(config.keys[1].digest(), KeyEntry::digest_of("sk-example-ci"));
    let prepaid = &config.keys[2];
    assert_eq!(prepaid.monthly_spend_cap.map(|c| c.0.usd()).as_deref(), Some("50.00"));
    assert_eq!(config.accounts[0].billing, crate::config::BillingMode::Prepaid);
    assert_eq!(config.billing.multiplier_micro(Some("partners")), 800_000);
    assert_eq!(price.per_request, Some(PricePerMillion(100)));
}

#[test]
fn a_group_multiplier_that_leaves_a_fraction_is_refused() {
    let base = "listen: 127.0.0.1:8080\nproviders: [ { name: p, protocol: openai, base_url: \"http://127.0.0.1:1\", api_key: x } ]\nmodels: [ { id: m, price: { input: 0.000001, output: 1 }, channels: [ { provider: p, model: m } ] } ]\n";
    let refused = crate::config::parse(&format!("{base}billing: {{ groups: {{ g: {{ multiplier: 0.5 }} }} }}\n"), &|_| None);
    let err = refused.unwrap_err().to_string();
    assert!(err.contains("billing.groups.g.multiplier") && err.contains("input"), "{err}");
    let fine = crate::config::parse(&format!("{base}billing: {{ groups: {{ g: {{ multiplier: 2 }} }} }}\n"), &|_| None);
    assert_eq!(fine.unwrap().billing.multiplier_micro(Some("g")), 2_000_000);
}

#[test]
fn defaults_apply_when_sections_are_omitted() {
    let config = ok(&doc("", None, None, None));
    assert_eq!(config.admin, AdminConfig::default());
    assert_eq!(config.admin.listen.to_string(), "127.0.0.1:9090");
    assert_eq!(config.admin.token, None);
    assert_eq!(config.store, StoreConfig::Memory);
    assert_eq!(config.server.threads, 2);
    assert_eq!(config.server.grace_period_seconds, 30);
    assert_eq!(config.server.graceful_shutdown_timeout_seconds, 5);
    assert_eq!(config.limits.max_body_bytes, 33_554_432);
    let timeouts = &config.providers[0].timeouts;
    assert_eq!(timeouts.connect, Duration::from_secs(5));
    assert_eq!(timeouts.first_byte, Duration::from_secs(60));
    assert_eq!(timeouts.idle, Duration::from_secs(60));
    let model = &config.models[0];
    assert!(model.aliases.is_empty());
    assert_eq!(model.price, None);
    assert_eq!(model.channels[0].priority, 0);
    assert_eq!(model.channels[0].weight, 1);
}

#[test]
fn partial_sections_keep_other_defaults() {
    let config = ok(&doc("server: { threads: 4 }\nadmin: { token: t }", None, None, None));
    assert_eq!(config.server.threads, 4);
    assert_eq!(config.server.grace_period_seconds, 30);
    assert_eq!(config.admin.listen.to_string(), "127.0.0.1:9090");
}

#[test]
fn keys_are_optional() {
    let config = ok(&doc("", None, None, Some("")));
    assert!(config.keys.is_empty());
}

#[test]
fn durations_use_humantime() {
    let providers = r#"
providers:
  - name: openai
    protocol: openai
    base_url: http://localhost:11434/v1
    api_key: ""
    timeouts: { connect: 150ms, first_byte: 5s, idle: 1m 30s }
"#;
    let config = ok(&doc("", Some(providers), None, None));
    let timeouts = &config.providers[0].timeouts;
    assert_eq!(timeouts.connect, Duration::from_millis(150));
    assert_eq!(timeouts.first_byte, Duration::from_secs(5));
    assert_eq!(timeouts.idle, Duration::from_secs(90));
    assert!(config.providers[0].api_key.is_empty());
}

#[test]
fn bad_and_zero_durations_name_the_field() {
    let with = |timeouts: &str| {
        doc(
            "",
            Some(&format!(
                "providers:\n  - {{ name: openai, protocol: openai, base_url: \"https://x.test\", api_key: k, timeouts: {timeouts} }}"
            )),
            None,
            None,
        )
    };
    assert_err_starts(&with("{ connect: 5x }"), "providers[0].timeouts.connect: invalid value");
    assert_err(&with("{ idle: 0s }"), "providers[0].timeouts.idle: must be greater than 0");
}

#[test]
fn unknown_fields_are_rejected() {
    let models = "models:\n  - id: m\n    channels:\n      - { provider: openai, model: m, prioirty: 1 }";
    assert_err_starts(&doc("", None, Some(models), None), "models[0].channels[0].prioirty: unknown field `prioirty`");
    assert_err_starts(&doc("listne: 1.2.3.4:5", None, None, None), "listne: unknown field `listne`");
}

#[test]
fn missing_required_fields_are_named() {
    assert_err_starts(&doc("", None, Some("models:\n  - { id: m }"), None), "models[0]: missing field `channels`");
    assert_err_starts("listen: 127.0.0.1:8080\nmodels: []\n", "(top level): missing field `providers`");
}

#[test]
fn wrong_types_name_the_field() {
    assert_err_starts(&doc("server: { threads: many }", None, None, None), "server.threads: invalid type");
    assert_err_starts(
        &doc("", None, None, None).replace("listen: 127.0.0.1:8080", "listen: nowhere"),
        "listen: \"nowhere\" is not an IP address and port",
    );
}

#[test]
fn env_expansion_applies_and_names_unset_variables() {
    let config = ok(&doc("", None, None, Some("keys:\n  - { name: demo, key: \"${DEMO_KEY}\" }")));
    assert_eq!(config.keys[0].key.as_ref().map(Secret::expose), Some("sk-demo-123"));

    let keys = "keys:\n  - { name: a, key: k1 }\n  - { name: b, key: \"${NOT_SET}\" }";
    assert_err(&doc("", None, None, Some(keys)), "keys[1].key: environment variable NOT_SET is not set");

    let config = ok(&doc("", None, None, Some("keys:\n  - { name: demo, key: \"a$${DEMO_KEY}\" }")));
    assert_eq!(config.keys[0].key.as_ref().map(Secret::expose), Some("a${DEMO_KEY}"));
}

#[test]
fn prices_are_exact_and_errors_name_the_field() {
    let model = |price: &str| format!("models:\n  - id: m\n    price: {price}\n    channels: [{{ provider: openai, model: m }}]");
    let config =
        ok(&doc("", None, Some(&model("{ input: 0.075, output: \"1.25\", cache_read: 2, cache_write: 0.000001 }")), None));
    let price = config.models[0].price.clone().unwrap();
    assert_eq!(price.input, PricePerMillion(75_000));
    assert_eq!(price.output, PricePerMillion(1_250_000));
    assert_eq!(price.cache_read, Some(PricePerMillion(2_000_000)));
    assert_eq!(price.cache_write, Some(PricePerMillion(1)));

    assert_err_starts(
        &doc("", None, Some(&model("{ input: 0.0000001, output: 1 }")), None),
        "models[0].price.input: price has more than 6 decimal places",
    );
    assert_err_starts(
        &doc("", None, Some(&model("{ input: 1, output: -2 }")), None),
        "models[0].price.output: price must not be negative",
    );
    assert_err_starts(
        &doc("", None, Some(&model("{ input: 1, output: 1, cache_read: .nan }")), None),
        "models[0].price.cache_read: price must be a decimal number",
    );
    assert_err_starts(&doc("", None, Some(&model("{ input: 1 }")), None), "models[0].price: missing field `output`");
}

#[test]
fn store_urls_are_checked() {
    let config = ok(&doc("store: redis://localhost:6379/0", None, None, None));
    assert_eq!(config.store, StoreConfig::Redis("redis://localhost:6379/0".to_owned()));
    let config = ok(&doc("store: redis-cluster://127.0.0.1:7000,127.0.0.1:7001", None, None, None));
    assert_eq!(
        config.store,
        StoreConfig::RedisCluster(vec!["redis://127.0.0.1:7000".to_owned(), "redis://127.0.0.1:7001".to_owned()])
    );
    let config = ok(&doc("store: memory\nstore_options: { timeout: 100ms, limits_on_outage: closed }", None, None, None));
    assert_eq!(config.store_options.timeout, Duration::from_millis(100));
    assert_eq!(config.store_options.limits_on_outage, FailMode::Closed);
    assert_eq!(config.store_options.key_cache_ttl, Duration::from_secs(1));
    assert_err(&doc("store_options: { timeout: 0s }", None, None, None), "store_options.timeout: must be greater than 0");
    assert_err(
        &doc("store: postgres://x", None, None, None),
        "store: expected `memory`, a redis:// or rediss:// URL, or redis-cluster://host:port,…",
    );
}

#[test]
fn protocols_are_the_three_known_words() {
    let with = |protocol: &str| {
        doc(
            "",
            Some(&format!("providers:\n  - {{ name: openai, protocol: {protocol}, base_url: \"https://x.test\", api_key: k }}")),
            None,
            None,
        )
    };
    assert_eq!(ok(&with("anthropic")).providers[0].protocol, Protocol::Anthropic);
    assert_err_starts(&with("OpenAI"), "providers[0].protocol: unknown variant `OpenAI`");
}

#[test]
fn provider_rules() {
    let one = |name: &str, url: &str| format!("  - {{ name: \"{name}\", protocol: openai, base_url: \"{url}\", api_key: k }}\n");
    let providers = |entries: &[String]| format!("providers:\n{}", entries.concat());
    let with = |entries: &[String]| doc("", Some(&providers(entries)), None, None);

    assert_err(&doc("", Some("providers: []"), None, None), "providers: at least one provider is required");
    assert_err(&with(&[one("openai", "https://a.test"), one("", "https://b.test")]), "providers[1].name: must not be empty");
    assert_err(
        &with(&[one("openai", "https://a.test"), one("openai", "https://b.test")]),
        "providers[1].name: duplicate provider name \"openai\" (also providers[0].name)",
    );
    assert_err(
        &with(&[one("openai", "https://a.test"), one("a/b", "https://b.test")]),
        "providers[1].name: \"a/b\" must not contain `/`",
    );
    assert_err(&with(&[one("openai", "ftp://a.test/v1")]), "providers[0].base_url: scheme must be http or https, not \"ftp\"");
    assert_err_starts(&with(&[one("openai", "not a url")]), "providers[0].base_url: invalid URL \"not a url\"");
}

#[test]
fn model_names_are_unique_across_ids_and_aliases() {
    let models = |body: &str| doc("", None, Some(&format!("models:\n{body}")), None);
    let channels = "channels: [{ provider: openai, model: x }]";
    assert_err(
        &models(&format!("  - {{ id: a, {channels} }}\n  - {{ id: a, {channels} }}\n")),
        "models[1].id: model name \"a\" is already used by models[0].id",
    );
    assert_err(
        &models(&format!("  - {{ id: a, {channels} }}\n  - {{ id: b, aliases: [c, a], {channels} }}\n")),
        "models[1].aliases[1]: model name \"a\" is already used by models[0].id",
    );
    assert_err(
        &models(&format!("  - {{ id: a, aliases: [b], {channels} }}\n  - {{ id: b, {channels} }}\n")),
        "models[1].id: model name \"b\" is already used by models[0].aliases[0]",
    );
    assert_err(&models(&format!("  - {{ id: a, aliases: [\"\"], {channels} }}\n")), "models[0].aliases[0]: must not be empty");
    assert_err(&models(&format!("  - {{ id: \"\", {channels} }}\n")), "models[0].id: must not be empty");
    assert_err(&doc("", None, Some("models: []"), None), "models: at least one model is required");
}

#[test]
fn channel_rules() {
    let with = |channels: &str| doc("", None, Some(&format!("models:\n  - id: m\n    channels: {channels}")), None);
    assert_err(
        &with("[{ provider: openai, model: m }, { provider: backup, model: m }]"),
        "models[0].channels[1].provider: unknown provider \"backup\"; declared providers: openai",
    );
    assert_err(
        &with("[{ provider: openai, model: m, weight: 0 }]"),
        "models[0].channels[0].weight: must be at least 1 (to stop using a channel, remove it or give it a higher priority number)",
    );
    assert_err(&with("[{ provider: openai, model: \"\" }]"), "models[0].channels[0].model: must not be empty");
    assert_err(&with("[]"), "models[0].channels: at least one channel is required");
}

#[test]
fn key_rules() {
    let with = |keys: &str| doc("", None, None, Some(&format!("keys:\n{keys}")));
    let digest = hex::encode(KeyEntry::digest_of("k1"));

    assert_err(&with("  - { name: \"\", key: k1 }"), "keys[0].name: must not be empty");
    assert_err(
        &with("  - { name: a, key: k1 }\n  - { name: a, key: k2 }"),
        "keys[1].name: duplicate key name \"a\" (also keys[0].name)",
    );
    assert_err(
        &with(&format!("  - {{ name: a, key: k1, key_sha256: {digest} }}")),
        "keys[0]: set either `key` or `key_sha256`, not both",
    );
    assert_err(&with("  - { name: a }"), "keys[0]: one of `key` or `key_sha256` is required");
    assert_err(
        &with("  - { name: a, key: \"${EMPTY}\" }"),
        "keys[0].key: must not be empty (is its environment variable set to an empty value?)",
    );
    assert_err_starts(&with("  - { name: a, key_sha256: abc }"), "keys[0].key_sha256: must be 64 hex digits");
    assert_err_starts(
        &with(&format!("  - {{ name: a, key_sha256: {} }}", "g".repeat(64))),
        "keys[0].key_sha256: must be 64 hex digits",
    );
    assert_err(
        &with(&format!("  - {{ name: a, key: k1 }}\n  - {{ name: b, key_sha256: {} }}", digest.to_uppercase())),
        "keys[1].key_sha256: same key as keys[0]",
    );
    assert_err(&with("  - { name: a, key: k1 }\n  - { name: b, key: k1 }"), "keys[1].key: same key as keys[0]");

    let config = ok(&with(&format!("  - {{ name: a, key_sha256: {} }}", digest.to_uppercase())));
    assert_eq!(config.keys[0].key_sha256.as_deref(), Some(digest.as_str()));
    assert_eq!(config.keys[0].digest(), KeyEntry::digest_of("k1"));
}

#[test]
fn server_limits_and_listener_rules() {
    assert_err(&doc("server: { threads: 0 }", None, None, None), "server.threads: must be at least 1");
    assert_err(&doc("limits: { max_body_bytes: 0 }", None, None, None), "limits.max_body_bytes: must be greater than 0");
    assert_err(&doc("limits: { media_max_urls: 0 }", None, None, None), "limits.media_max_urls: must be greater than 0");
    assert_err(
        &doc("limits: { sse_max_event_bytes: 0 }", None, None, None),
        "limits.sse_max_event_bytes: must be greater than 0",
    );
    assert_err(
        &doc("limits: { media_fetch_timeout: 0s }", None, None, None),
        "limits.media_fetch_timeout: must be longer than 0s",
    );
    assert_err(
        &doc("admin: { listen: 127.0.0.1:8080 }", None, None, None),
        "admin.listen: 127.0.0.1:8080 clashes with listen (127.0.0.1:8080); the admin listener needs its own address",
    );
    assert_err_starts(&doc("admin: { listen: \"0.0.0.0:8080\" }", None, None, None), "admin.listen: 0.0.0.0:8080 clashes");
    ok(&doc("admin: { listen: \"127.0.0.2:8080\" }", None, None, None));
    assert_err(
        &doc("admin: { token: \"${EMPTY}\" }", None, None, None),
        "admin.token: must not be empty; remove `token` to run the admin API without one",
    );
}

#[test]
fn yaml_syntax_errors_carry_a_position() {
    match parse("listen: [unclosed\n", &env) {
        Err(ConfigError::Syntax { line, .. }) => assert!(line.is_some()),
        other => panic!("expected a syntax error, got {other:?}"),
    }
    assert_err("", "(top level): the config is empty");
}

#[test]
fn merge_keys_are_resolved() {
    let providers = r#"
x-timeouts: &slow { connect: 1s, first_byte: 120s }
providers:
  - name: openai
    protocol: openai
    base_url: https://api.openai.com/v1
    api_key: k
    timeouts: { <<: *slow, idle: 30s }
"#;
    // `x-timeouts` is not a field: anchors must live somewhere that is.
    assert_err_starts(&doc("", Some(providers), None, None), "x-timeouts: unknown field `x-timeouts`");
    let providers = r#"
providers:
  - name: openai
    protocol: openai
    base_url: https://api.openai.com/v1
    api_key: k
    timeouts: &slow { connect: 1s, first_byte: 120s }
  - name: backup
    protocol: openai
    base_url: https://b.test/v1
    api_key: k
    timeouts: { <<: *slow, idle: 30s }
"#;
    let config = ok(&doc("", Some(providers), None, None));
    let timeouts = &config.providers[1].timeouts;
    assert_eq!(timeouts.first_byte, Duration::from_secs(120));
    assert_eq!(timeouts.idle, Duration::from_secs(30));
}

#[test]
fn secrets_are_redacted_in_debug_output() {
    let config = ok(include_str!("../../conf/switchyard.example.yaml"));
    let shown = format!("{config:?}");
    for secret in ["sk-demo-123", "sk-openai-secret", "sk-backup-secret", "admin-secret"] {
        assert!(!shown.contains(secret), "{secret} leaked into {shown}");
    }
    assert!(shown.contains("<redacted>"));

    let store = StoreConfig::Redis("redis://:hunter2@cache.internal:6379/0".to_owned());
    assert_eq!(format!("{store:?}"), "Redis(\"redis://<redacted>@cache.internal:6379/0\")");
}

#[test]
fn lookups_resolve_ids_aliases_and_providers() {
    let config = ok(include_str!("../../conf/switchyard.example.yaml"));
    assert_eq!(config.model_by_name("gpt-4o-mini").map(|m| m.id.as_str()), Some("gpt-4o-mini"));
    assert_eq!(config.model_by_name("openai/gpt-4o").map(|m| m.id.as_str()), Some("gpt-4o"));
    assert!(config.model_by_name("nope").is_none());
    assert_eq!(config.provider("openai").map(|p| p.protocol), Some(Protocol::Openai));
    assert!(config.provider("nope").is_none());
}

#[test]
fn load_reads_a_file_and_reports_io_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("switchyard.yaml");
    std::fs::write(&path, doc("", None, None, None)).unwrap();
    let config = load(&path).unwrap();
    assert_eq!(config.models[0].id, "m");

    let missing = dir.path().join("missing.yaml");
    let err = load(&missing).unwrap_err();
    assert!(matches!(err, ConfigError::Io { .. }));
    assert!(err.to_string().contains("missing.yaml"), "{err}");
}

#[test]
fn max_output_tokens_and_rejected_sampling_fields() {
    use crate::protocol::ir::SamplingField;
    let models = r#"
models:
  - id: m
    max_output_tokens: 64000
    capabilities: { reasoning: true, rejects: [temperature, top_p] }
    channels:
      - { provider: openai, model: m }
"#;
    let config = ok(&doc("", None, Some(models), None));
    let m = &config.models[0];
    assert_eq!(m.max_output_tokens, Some(64000));
    assert_eq!(m.capabilities.rejects, vec![SamplingField::Temperature, SamplingField::TopP]);
    let zero = models.replace("64000", "0");
    assert_err_starts(&doc("", None, Some(&zero), None), "models[0].max_output_tokens");
    let unknown = models.replace("top_p]", "top_q]");
    assert!(err(&doc("", None, Some(&unknown), None)).contains("top_q"));
    let plain = ok(&doc("", None, None, None));
    assert_eq!((plain.models[0].max_output_tokens, plain.models[0].capabilities.rejects.len()), (None, 0));
}

#[test]
fn accounts_and_their_keys() {
    let keys = "keys:\n  - { name: ops, key: k1 }\n  - { name: team, key: k2, account: team, models: [m], limits: { rpm: 5 } }\n";
    let config =
        ok(&doc("accounts:\n  - { id: team, limits: { rpm: 60, rpd: 1000 } }\nfree_tier: { rpm: 3 }", None, None, Some(keys)));
    assert_eq!(config.accounts[0].group, "default");
    assert_eq!(config.accounts[0].limits.rpm, Some(60));
    assert_eq!(config.keys[1].account.as_deref(), Some("team"));
    assert_eq!(config.keys[1].limits.rpm, Some(5));
    assert_eq!(config.free_tier, FreeTier { rpm: 3, rpd: 200 });
    assert_err(
        &doc("", None, None, Some("keys:\n  - { name: t, key: k2, account: nobody }\n")),
        "keys[0].account: unknown account \"nobody\"; declare it under `accounts`",
    );
    assert_err(
        &doc("", None, None, Some("keys:\n  - { name: t, key: k2, limits: { rpm: 1 } }\n")),
        "keys[0].limits: only keys of an account have limits; add `account`",
    );
    assert_err(
        &doc("accounts:\n  - { id: a, limits: { rpd: 0 } }", None, None, None),
        "accounts[0].limits.rpd: must be at least 1 (remove it for no limit)",
    );
    assert_err(
        &doc("accounts:\n  - { id: a }\n  - { id: a }", None, None, None),
        "accounts[1].id: duplicate account id \"a\" (also accounts[0].id)",
    );
}

#[test]
fn free_models() {
    let models = "models:\n  - { id: a, free: true, channels: [ { provider: openai, model: m } ] }\n  - { id: b:free, channels: [ { provider: openai, model: m } ] }\n  - { id: c, channels: [ { provider: openai, model: m } ] }\n";
    let config = ok(&doc("", None, Some(models), None));
    let free: Vec<bool> = config.models.iter().map(Model::is_free).collect();
    assert_eq!(free, [true, true, false]);
}

#[test]
fn routing_defaults_values_and_rules() {
    let config = ok(&doc("", None, None, None));
    assert_eq!(config.routing, Routing::default());
    assert_eq!(
        (config.routing.eject_after_failures, config.routing.error_ratio.per_mille(), config.routing.max_attempts),
        (3, 500, 5)
    );
    assert_eq!((config.routing.cooldown, config.routing.max_cooldown), (Duration::from_secs(10), Duration::from_secs(300)));
    assert!(config.routing.expose_headers);
    assert_eq!(config.models[0].first_byte_deadline, Duration::from_secs(120));
    let set = ok(&doc("routing: { error_ratio: 0.25, cooldown: 2s, max_attempts: 2, expose_headers: false }", None, None, None));
    assert_eq!((set.routing.error_ratio, set.routing.max_attempts), (Ratio(250), 2));
    assert!(!set.routing.expose_headers);
    assert_err_starts(&doc("routing: { error_ratio: 0 }", None, None, None), "routing.error_ratio: must be a share");
    assert_err_starts(&doc("routing: { error_ratio: 1.5 }", None, None, None), "routing.error_ratio: must be a share");
    assert_err(&doc("routing: { max_attempts: 0 }", None, None, None), "routing.max_attempts: must be at least 1");
    assert_err(&doc("routing: { window: 0s }", None, None, None), "routing.window: must be longer than 0s");
    assert_err(
        &doc("routing: { cooldown: 20s, max_cooldown: 10s }", None, None, None),
        "routing.max_cooldown: must not be shorter than routing.cooldown",
    );
    let deadline = "models:\n  - { id: m, first_byte_deadline: 0s, channels: [ { provider: openai, model: m } ] }\n";
    assert_err(&doc("", None, Some(deadline), None), "models[0].first_byte_deadline: must be longer than 0s");
    let example = ok(include_str!("../../conf/switchyard.example.yaml"));
    assert_eq!(example.routing, Routing::default(), "the example shows the defaults");
}

fn one_provider(fields: &str) -> String {
    doc("", Some(&format!("providers:\n  - {{ name: openai, protocol: openai, api_key: k, {fields} }}\n")), None, None)
}

#[test]
fn replicas_and_health_checks_parse_with_defaults() {
    let c = ok(&one_provider(
        r#"base_urls: [ { url: "http://10.0.0.1:8000/v1", weight: 3 }, { url: "http://10.0.0.2:8000/v1" } ], health_check: { kind: http, path: /health }"#,
    ));
    let p = &c.providers[0];
    let endpoints: Vec<(String, u32)> = p.endpoints().into_iter().map(|(u, w)| (u.to_string(), w)).collect();
    assert_eq!(endpoints, [("http://10.0.0.1:8000/v1".to_owned(), 3), ("http://10.0.0.2:8000/v1".to_owned(), 1)]);
    let check = p.health_check.as_ref().unwrap();
    assert_eq!((check.expect_status, check.interval, check.rise, check.fall), (200, Duration::from_secs(10), 1, 1));
    assert_eq!(p.dns_refresh, Duration::from_secs(60));
}

#[test]
fn replicas_are_checked() {
    assert_err_starts(&one_provider(""), "providers[0].base_url: missing field");
    assert_err_starts(
        &one_provider(r#"base_url: "http://a/v1", base_urls: [ { url: "http://b/v1" } ]"#),
        "providers[0].base_urls: give either base_url or base_urls",
    );
    assert_err_starts(
        &one_provider(r#"base_urls: [ { url: "http://a/v1" }, { url: "http://b/v2" } ]"#),
        "providers[0].base_urls[1].url: must have the scheme and path of http://a/v1",
    );
    assert_err_starts(
        &one_provider(r#"base_urls: [ { url: "http://a/v1", weight: 0 } ]"#),
        "providers[0].base_urls[0].weight: must be greater than 0",
    );
    assert_err_starts(
        &one_provider(r#"base_url: "http://a/v1", health_check: { kind: tcp, interval: 0s }"#),
        "providers[0].health_check.interval: must be greater than 0",
    );
    assert_err_starts(
        &one_provider(r#"base_url: "http://a/v1", health_check: { kind: http, path: health }"#),
        "providers[0].health_check.path: must start with /",
    );
}

#[test]
fn auto_section() {
    let config =
        ok(&doc("auto: { policy: weighted, candidates: [m], weights: { cost: 0.5 }, quality: { m: 0.9 } }", None, None, None));
    let auto = config.auto.unwrap();
    assert_eq!(auto.policy, AutoPolicy::Weighted);
    assert_eq!(auto.weights, AutoWeights { cost: 0.5, latency: 1.0, quality: 1.0 });
    assert_eq!(auto.quality.get("m"), Some(&0.9));
    assert!(ok(&doc("", None, None, None)).auto.is_none());
    assert_err(
        &doc("auto: { policy: cheapest, candidates: [] }", None, None, None),
        "auto.candidates: at least one candidate is required",
    );
    assert_err(
        &doc("auto: { policy: cheapest, candidates: [m, x] }", None, None, None),
        "auto.candidates[1]: unknown model \"x\"",
    );
    assert_err(
        &doc("auto: { policy: cheapest, candidates: [m, m] }", None, None, None),
        "auto.candidates[1]: \"m\" is listed twice",
    );
    assert_err(
        &doc("auto: { policy: weighted, candidates: [m], weights: { latency: -1 } }", None, None, None),
        "auto.weights.latency: must be a number of at least 0",
    );
    assert_err(
        &doc("auto: { policy: weighted, candidates: [m], quality: { n: 1 } }", None, None, None),
        "auto.quality.n: not one of auto.candidates",
    );
    let models = "models:\n  - { id: m, aliases: [auto], channels: [ { provider: openai, model: m } ] }\n";
    assert!(err(&doc("auto: { policy: fastest, candidates: [m] }", None, Some(models), None))
        .starts_with("models[0]: the name `auto`"));
    assert!(err(&doc("auto: { policy: smartest, candidates: [m] }", None, None, None)).contains("smartest"));
}

#[test]
fn passthrough_providers() {
    let providers = |name: &str| {
        format!("providers:\n  - {{ name: {name}, protocol: openai, base_url: \"https://api.openai.com/v1\", api_key: k, passthrough: true }}\n")
    };
    let models = |name: &str| format!("models:\n  - {{ id: m, channels: [ {{ provider: {name}, model: m }} ] }}\n");
    let config = ok(&doc("", Some(&providers("openai")), Some(&models("openai")), None));
    assert!(config.providers[0].passthrough);
    assert!(!ok(&doc("", None, None, None)).providers[0].passthrough, "off by default");
    assert_err(
        &doc("", Some(&providers("v1")), Some(&models("v1")), None),
        "providers[0].passthrough: a provider named \"v1\" cannot have passthrough: `/v1/…` is the gateway's own route",
    );
}
