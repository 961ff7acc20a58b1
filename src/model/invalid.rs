//! The error of client input that is not a valid server, namespace or auth block: which
//! field, and why. Its own file, below both `validate` (the drafts) and `auth` (a
//! server's `auth` object), which each return it.

/// Input that is not a valid server or namespace: which field, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Invalid {
    pub field: Option<String>,
    pub message: String,
}

impl Invalid {
    pub fn field(field: &str, message: impl Into<String>) -> Invalid {
        Invalid {
            field: Some(field.to_string()),
            message: format!("{field}: {}", message.into()),
        }
    }
}
