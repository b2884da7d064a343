//! What the server has of what mk-rds-users manages, as
//! [`crate::mysql::Session::observe`] reads it and [`crate::plan`]
//! compares it.

use std::collections::{BTreeMap, BTreeSet};

use crate::grants::Grants;
use crate::quote::{Account, Dialect};

/// What the server has.
#[derive(Debug, Clone, Default)]
pub struct Observed {
    pub dialect: Dialect,
    /// The server's `version` variable, for the report.
    pub version: String,
    /// Existing databases among ours, and their character set.
    pub charsets: BTreeMap<String, String>,
    /// Existing accounts among ours.
    pub accounts: BTreeSet<Account>,
    /// The grants of each existing account.
    pub grants: BTreeMap<Account, Grants>,
}
