//! `${VAR}` expansion in string values.
//!
//! Secrets belong in the environment (systemd's `EnvironmentFile`), not in a YAML file that gets
//! copied around, so any string value may reference environment variables. Expansion runs on the
//! parsed YAML tree rather than on the raw text: a variable's value can then never change the
//! document's structure (a key containing `: ` or a newline stays one string), and each error can
//! name the field it happened in.

use serde_yaml_ng::Value;

use super::ConfigError;

/// Why one string could not be expanded; the caller adds the field path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    /// The variable is not in the environment. An empty value counts as set.
    #[error("environment variable {0} is not set")]
    Unset(String),
    /// A `${` without its `}`.
    #[error("unterminated `${{` (write `$${{` for a literal `${{`)")]
    Unterminated,
    /// Only plain shell-style names, so typos such as `${OPENAI API KEY}` fail loudly.
    #[error("invalid environment variable name {0:?} (use letters, digits and `_`, not starting with a digit; write `$${{` for a literal `${{`)")]
    InvalidName(String),
}

/// Expands `${NAME}` in `text`; `$${` is a literal `${`, any other `$` is kept as is.
///
/// Values read from the environment are inserted verbatim and never expanded again, so a secret
/// that happens to contain `${` is safe.
#[cfg(test)]
pub fn expand_str(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, ExpandError> {
    expand_all(text, env).map_err(|mut errors| errors.swap_remove(0))
}

/// As [`expand_str`], but goes on past an unset or malformed name so that every problem in the
/// string is reported (the error list is never empty).
fn expand_all(text: &str, env: &dyn Fn(&str) -> Option<String>) -> Result<String, Vec<ExpandError>> {
    let mut out = String::with_capacity(text.len());
    let mut errors = Vec::new();
    let mut rest = text;
    while let Some(dollar) = rest.find('$') {
        out.push_str(&rest[..dollar]);
        let after = &rest[dollar..];
        if let Some(tail) = after.strip_prefix("$${") {
            out.push_str("${");
            rest = tail;
        } else if let Some(tail) = after.strip_prefix("${") {
            let Some(end) = tail.find('}') else {
                errors.push(ExpandError::Unterminated);
                return Err(errors);
            };
            let name = &tail[..end];
            if !is_valid_name(name) {
                errors.push(ExpandError::InvalidName(name.to_owned()));
            } else if let Some(value) = env(name) {
                out.push_str(&value);
            } else {
                errors.push(ExpandError::Unset(name.to_owned()));
            }
            rest = &tail[end + 1..];
        } else {
            out.push('$');
            rest = &after[1..];
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn is_valid_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    match bytes.next() {
        Some(first) if first.is_ascii_alphabetic() || first == b'_' => {}
        _ => return false,
    }
    bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// Expands every string scalar in the tree, in place, and reports every failure at once.
///
/// An operator filling in an `EnvironmentFile` wants the whole list of missing variables in one
/// go, not one per attempt. Paths are spelled the way `serde_path_to_error` spells them
/// (`keys[0].key`), so expansion errors and type errors read alike. Mapping keys are not
/// expanded: they are field names.
pub fn expand_tree(value: &mut Value, env: &dyn Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
    let mut path = String::new();
    let mut problems = Vec::new();
    walk(value, &mut path, env, &mut problems);
    ConfigError::from_problems(problems)
}

fn walk(value: &mut Value, path: &mut String, env: &dyn Fn(&str) -> Option<String>, problems: &mut Vec<ConfigError>) {
    match value {
        Value::String(text) => {
            // Most strings have no `$`; skip the copy for them.
            if text.contains('$') {
                match expand_all(text, env) {
                    Ok(expanded) => *text = expanded,
                    Err(errors) => problems.extend(
                        errors.into_iter().map(|err| ConfigError::Invalid { path: display_path(path), message: err.to_string() }),
                    ),
                }
            }
        }
        Value::Sequence(items) => {
            for (index, item) in items.iter_mut().enumerate() {
                let len = path.len();
                path.push('[');
                path.push_str(&index.to_string());
                path.push(']');
                walk(item, path, env, problems);
                path.truncate(len);
            }
        }
        Value::Mapping(map) => {
            for (key, item) in map.iter_mut() {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(&key_name(key));
                walk(item, path, env, problems);
                path.truncate(len);
            }
        }
        Value::Tagged(tagged) => walk(&mut tagged.value, path, env, problems),
        Value::Null | Value::Bool(_) | Value::Number(_) => {}
    }
}

fn key_name(key: &Value) -> String {
    match key {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        _ => "?".to_owned(),
    }
}

/// The path of the document root, which has no field name of its own.
pub(crate) fn display_path(path: &str) -> String {
    if path.is_empty() || path == "." {
        "(top level)".to_owned()
    } else {
        path.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        match name {
            "DEMO_KEY" => Some("sk-demo".to_owned()),
            "HOST" => Some("example.com".to_owned()),
            "PORT" => Some("8443".to_owned()),
            "EMPTY" => Some(String::new()),
            "TRICKY" => Some("${HOST}".to_owned()),
            _ => None,
        }
    }

    #[test]
    fn expands_a_set_variable() {
        assert_eq!(expand_str("${DEMO_KEY}", &env), Ok("sk-demo".to_owned()));
        assert_eq!(expand_str("${EMPTY}", &env), Ok(String::new()));
    }

    #[test]
    fn expands_several_variables_in_one_string() {
        assert_eq!(expand_str("https://${HOST}:${PORT}/v1", &env), Ok("https://example.com:8443/v1".to_owned()));
    }

    #[test]
    fn double_dollar_is_a_literal() {
        assert_eq!(expand_str("a$${HOST}b", &env), Ok("a${HOST}b".to_owned()));
        assert_eq!(expand_str("$$${HOST}", &env), Ok("$${HOST}".to_owned()));
        assert_eq!(expand_str("cost $5 $", &env), Ok("cost $5 $".to_owned()));
    }

    #[test]
    fn values_are_not_expanded_twice() {
        assert_eq!(expand_str("${TRICKY}", &env), Ok("${HOST}".to_owned()));
    }

    #[test]
    fn unset_and_malformed_references_fail() {
        assert_eq!(expand_str("${NOPE}", &env), Err(ExpandError::Unset("NOPE".to_owned())));
        assert_eq!(expand_str("x ${HOST", &env), Err(ExpandError::Unterminated));
        assert_eq!(expand_str("${1A}", &env), Err(ExpandError::InvalidName("1A".to_owned())));
        assert_eq!(expand_str("${}", &env), Err(ExpandError::InvalidName(String::new())));
        assert_eq!(expand_str("${A B}", &env), Err(ExpandError::InvalidName("A B".to_owned())));
    }

    #[test]
    fn tree_errors_name_the_field_and_the_variable() {
        let mut value: Value =
            serde_yaml_ng::from_str("keys:\n  - { name: demo, key: \"${DEMO_KEY}\" }\n  - { name: x, key: \"${MISSING}\" }\n")
                .unwrap();
        let err = expand_tree(&mut value, &env).unwrap_err();
        assert_eq!(err.to_string(), "keys[1].key: environment variable MISSING is not set");
    }

    #[test]
    fn tree_reports_every_unset_variable_at_once() {
        let mut value: Value = serde_yaml_ng::from_str(
            "admin: { token: \"${NO_TOKEN}\" }\nkeys:\n  - { name: a, key: \"${DEMO_KEY}\" }\n  - { name: b, key: \"${NO_KEY}:${NO_PORT}\" }\n",
        )
        .unwrap();
        let err = expand_tree(&mut value, &env).unwrap_err();
        let text = err.to_string();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines,
            [
                "admin.token: environment variable NO_TOKEN is not set",
                "keys[1].key: environment variable NO_KEY is not set",
                "keys[1].key: environment variable NO_PORT is not set"
            ],
            "{text}"
        );
    }

    #[test]
    fn tree_expands_nested_strings_only() {
        let mut value: Value = serde_yaml_ng::from_str("a: { b: [\"${HOST}\", 3, true] }\n\"${HOST}\": 1\n").unwrap();
        expand_tree(&mut value, &env).unwrap();
        let expected: Value = serde_yaml_ng::from_str("a: { b: [example.com, 3, true] }\n\"${HOST}\": 1\n").unwrap();
        assert_eq!(value, expected);
    }
}
