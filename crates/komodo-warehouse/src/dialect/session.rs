//! What a statement's rewrite substitutes from its session.

/// The session values that [`rewrite`] substitutes.
#[derive(Debug, Clone, Default)]
pub(crate) struct SessionValues {
    pub(crate) account: String,
    pub(crate) database: Option<String>,
    pub(crate) schema: Option<String>,
}
