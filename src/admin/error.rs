//! The admin listener's own error envelope: `{"error":{"type","code","message"}}`.
//!
//! Operators and their scripts read these, not SDKs, so the shape is Switchyard's own and does
//! not pretend to be any provider's; one typed struct keeps every admin error alike.

use serde::Serialize;

/// Why an admin request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdminErrorType {
    /// No route at this path.
    NotFound,
    /// The admin token is missing or wrong.
    AuthenticationError,
    /// The request body could not be read or is too large.
    InvalidRequestError,
    /// The config file was refused on reload; the running config stays.
    InvalidConfig,
}

/// One admin error: its HTTP status and the envelope's fields.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminError {
    /// HTTP status sent.
    pub status: u16,
    /// Broad class.
    pub kind: AdminErrorType,
    /// Stable machine-readable code.
    pub code: &'static str,
    /// What an operator should know or do.
    pub message: String,
}

#[derive(Serialize)]
struct Envelope<'a> {
    error: Body<'a>,
}

#[derive(Serialize)]
struct Body<'a> {
    #[serde(rename = "type")]
    kind: AdminErrorType,
    code: &'a str,
    message: &'a str,
}

impl AdminError {
    /// A 404 naming the path that has no route.
    pub fn not_found(path: &str) -> Self {
        let shown: String = path.chars().take(200).collect();
        AdminError {
            status: 404,
            kind: AdminErrorType::NotFound,
            code: "route_not_found",
            message: format!("no admin route at `{shown}`"),
        }
    }

    /// A 401: the route needs `Authorization: Bearer <admin.token>`.
    pub fn unauthorized() -> Self {
        AdminError {
            status: 401,
            kind: AdminErrorType::AuthenticationError,
            code: "invalid_admin_token",
            message: "this route needs `Authorization: Bearer <admin.token>`".to_owned(),
        }
    }

    /// A 413: the admin API reads at most `limit` bytes of body.
    pub fn too_large(limit: usize) -> Self {
        AdminError {
            status: 413,
            kind: AdminErrorType::InvalidRequestError,
            code: "body_too_large",
            message: format!("the request body is larger than {limit} bytes"),
        }
    }

    /// A 400: the request body could not be read.
    pub fn bad_body() -> Self {
        AdminError {
            status: 400,
            kind: AdminErrorType::InvalidRequestError,
            code: "unreadable_body",
            message: "the request body could not be read".to_owned(),
        }
    }

    /// A 422: a reload refused the config file; `message` names the field where there is one.
    pub fn invalid_config(message: String) -> Self {
        AdminError { status: 422, kind: AdminErrorType::InvalidConfig, code: "config_rejected", message }
    }

    /// The JSON body.
    pub fn to_json(&self) -> Vec<u8> {
        let envelope = Envelope { error: Body { kind: self.kind, code: self.code, message: &self.message } };
        // Serialising plain strings into a Vec cannot fail; an empty body would still carry the status.
        serde_json::to_vec(&envelope).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelope_has_type_code_and_message() {
        let v: serde_json::Value = serde_json::from_slice(&AdminError::unauthorized().to_json()).unwrap_or_default();
        assert_eq!(v["error"]["type"], "authentication_error");
        assert_eq!(v["error"]["code"], "invalid_admin_token");
        assert!(v["error"]["message"].as_str().is_some_and(|m| m.contains("Bearer")));
        let v: serde_json::Value = serde_json::from_slice(&AdminError::not_found("/nope").to_json()).unwrap_or_default();
        assert_eq!((v["error"]["type"].as_str(), v["error"]["code"].as_str()), (Some("not_found"), Some("route_not_found")));
        assert_eq!(v["error"].as_object().map(|o| o.len()), Some(3));
    }
}
