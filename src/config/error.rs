//! The one error type of config loading.

use std::path::PathBuf;

/// Why a config could not be loaded. Every variant tells the operator where to look: the file,
/// the YAML line, or the exact field path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Io {
        /// The file we tried to read.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid YAML (or uses YAML features we cannot resolve, e.g. a bad merge).
    #[error("invalid YAML: {message}")]
    Syntax {
        /// 1-based line of the problem, when the parser knows it.
        line: Option<usize>,
        /// 1-based column of the problem, when the parser knows it.
        column: Option<usize>,
        /// The parser's message, which already mentions the line and column.
        message: String,
    },
    /// Valid YAML, but a field is missing, has the wrong type, or breaks a rule.
    #[error("{path}: {message}")]
    Invalid {
        /// The field, spelled like `models[0].channels[1].provider`.
        path: String,
        /// What is wrong with it.
        message: String,
    },
    /// Several independent problems (e.g. every unset `${VAR}`), one per line, so an operator
    /// fixes them in one pass.
    #[error("{}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Several(Vec<ConfigError>),
}

impl ConfigError {
    /// Wraps a YAML parser error, keeping its position for tools that want it.
    pub(crate) fn syntax(err: &serde_yaml_ng::Error) -> Self {
        let location = err.location();
        ConfigError::Syntax {
            line: location.as_ref().map(serde_yaml_ng::Location::line),
            column: location.as_ref().map(serde_yaml_ng::Location::column),
            message: err.to_string(),
        }
    }

    /// `Ok` for no problems, the problem itself for one, [`ConfigError::Several`] for more.
    pub(crate) fn from_problems(mut problems: Vec<ConfigError>) -> Result<(), ConfigError> {
        match problems.len() {
            0 => Ok(()),
            1 => Err(problems.remove(0)),
            _ => Err(ConfigError::Several(problems)),
        }
    }

    /// Shorthand for a rule violation at `path`.
    pub(crate) fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid { path: path.into(), message: message.into() }
    }
}
