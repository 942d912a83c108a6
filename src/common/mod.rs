//! Leaves shared by the importer, the request builder and the credentials: rules that more
//! than one step of a request must agree on. Nothing here imports anything of the crate.

pub mod budget;
pub mod encode;
pub mod headers;
