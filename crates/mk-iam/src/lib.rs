//! mk-iam: the IAM side of an analytics deployment (SPEC section 2): the
//! managed policies, the analytics host's role and instance profile, the
//! shared EMR roles, and the users whose access keys the Analytics API
//! uses.
//!
//! Follows the house path: [`names`] and [`desired`] (pure) →
//! [`observe::observe`] (and the key files, [`keyfile`]) → [`plan`] (pure)
//! → [`common::plan::apply`] with [`apply::apply_op`] (nothing sent under
//! `--dry-run`) → the report ([`outputs`]). Policy documents are data
//! ([`policy`]); when a user gets a new access key is decided in [`keys`],
//! the key is made in [`new_key`]. Attaching past IAM's quota of managed
//! policies per role stops the run before any change ([`quota`]). ARNs are
//! built in the region's partition.

pub mod apply;
pub mod args;
pub mod desired;
pub mod destroy;
pub mod ensure;
#[cfg(test)]
mod ensure_tests;
#[cfg(test)]
mod fixtures;
pub mod iam;
pub mod keyfile;
pub mod keys;
pub mod names;
pub mod new_key;
pub mod observe;
pub mod observed;
pub mod op;
pub mod outputs;
pub mod plan;
pub mod policy;
pub mod quota;

use std::collections::BTreeMap;
use std::sync::Mutex;

pub use args::Args;
use common::Run;

use crate::names::Names;
use crate::plan::Op;

pub async fn run(args: Args, run: &mut Run) -> anyhow::Result<()> {
    let d = run.deployment().clone();
    let names = Names::from_args(&args, &d)?;
    let secrets = args.secrets.dir(d.client.as_str())?;
    let (stored_keys, pending_keys) = keyfile::read_all(&secrets, &names)?;
    let aws = args.aws.load(&run.calls).await?;
    names::check_partition(&names, aws.partition(), &aws.region)?;
    run.report.region = Some(aws.region.clone());
    let iam = common::client!(aws_sdk_iam, &aws);
    let sts = common::client!(aws_sdk_sts, &aws);

    let account = observe::account(&sts, aws.partition()).await?;
    let (desired, observed) =
        observe::observe(&iam, account, &names, stored_keys, pending_keys, args.destroy()).await?;
    let (plan, keys) = plan::plan(&d, &desired, &observed, args.destroy(), args.rotate_keys);
    if quota::attaches(&plan)
        && let Some(limit) = quota::policies_per_role(&iam).await?
    {
        quota::check(&desired, &observed, &plan, limit)?;
    }
    // The keys this run makes, by user: their ids are known only once made.
    let created = Mutex::new(BTreeMap::new());
    common::plan::apply(run, &plan, async |op: &Op| {
        let id = apply::apply_op(&iam, &secrets, op).await?;
        if let (Op::CreateAccessKey { user }, Some(id)) = (op, &id) {
            created.lock().expect("not poisoned").insert(user.clone(), id.clone());
        }
        Ok(id)
    })
    .await?;
    run.report.output("account_id", desired.account.id.clone());
    if !args.destroy() {
        let created = created.into_inner().expect("not poisoned");
        for (key, value) in outputs::outputs(&desired, &observed, &keys, &created, &secrets, &names) {
            run.report.output(&key, value);
        }
    }
    Ok(())
}
