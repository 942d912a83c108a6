//! An operation picked to become a tool, as the selection rules of each kind hand it to the
//! builder: the operation, its tool name and description, and where the name was configured.

use crate::targets::openapi::Operation;

/// An operation picked for a target, with its tool name and description.
pub(crate) struct Selected<'a> {
    pub op: &'a Operation<'a>,
    pub name: String,
    pub description: Option<String>,
    /// Where the name came from, for problems about duplicates.
    pub name_path: Option<String>,
}
