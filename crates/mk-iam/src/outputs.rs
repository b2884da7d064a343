//! What later steps read from mk-iam's document: ARNs, names, and where
//! each user's key is (its file and id, never its secret).

use std::collections::BTreeMap;

use common::SecretsDir;
use common::secrets::AccessKeyFile;
use serde_json::{Map, Value, json};

use crate::desired::Desired;
use crate::keys::KeyPlan;
use crate::names::Names;
use crate::observed::Observed;

/// The outputs of a converge run. `keys` is the plan's per user, `created`
/// the ids of the keys this run made, by user.
pub fn outputs(
    desired: &Desired,
    observed: &Observed,
    keys: &[Option<KeyPlan>],
    created: &BTreeMap<String, String>,
    secrets: &SecretsDir,
    names: &Names,
) -> Map<String, Value> {
    let mut out = Map::new();
    let policies: Map<String, Value> =
        desired.policies.iter().map(|p| (p.key.to_owned(), p.arn.clone().into())).collect();
    let roles: Map<String, Value> = desired
        .roles
        .iter()
        .zip(&observed.roles)
        .map(|(r, o)| (r.key.to_owned(), o.as_ref().map_or(r.arn.clone(), |o| o.arn.clone()).into()))
        .collect();
    let profiles: Map<String, Value> =
        desired.profiles.iter().map(|p| (p.key.to_owned(), p.name.clone().into())).collect();
    let users: Map<String, Value> = desired
        .users
        .iter()
        .zip(&observed.users)
        .zip(keys)
        .map(|((u, o), kp)| {
            let made = created.get(&u.name);
            let key_id = made.cloned().or_else(|| kp.as_ref().and_then(|k| k.key_id.clone()));
            let stored = made.is_some() || kp.as_ref().is_some_and(|k| k.stored);
            let file = stored.then(|| secrets.file(&AccessKeyFile::file_name(&u.name)));
            let user = json!({
                "name": u.name,
                "arn": o.as_ref().map_or(u.arn.clone(), |o| o.arn.clone()),
                "access_key_id": key_id,
                "access_key_file": file.map(|p| p.display().to_string()),
            });
            (u.kind.key().to_owned(), user)
        })
        .collect();
    out.insert("policies".into(), policies.into());
    out.insert("roles".into(), roles.into());
    out.insert("instance_profiles".into(), profiles.into());
    out.insert("users".into(), users.into());
    if let Some(bucket) = &names.reports_bucket {
        out.insert("reports_bucket".into(), bucket.clone().into());
    }
    out
}
