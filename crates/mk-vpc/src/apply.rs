//! Sending the plan's ops to EC2, one call each (the loop is
//! [`common::plan::apply`]'s). The gateway this run creates is remembered
//! here, for the attachment and the routes that come after it.

use std::sync::Mutex;

use aws_sdk_ec2::Client;
use aws_sdk_ec2::types::{AttributeBooleanValue, Filter, ResourceType};
use common::retry::eventually;
use common::{AwsResultExt, aws_error_code};
use network::{filter, sdk_tags, tag_spec};

use crate::ec2::{gateways, route_tables};
use crate::observed::ANYWHERE;
use crate::op::{GatewayRef, Op};

/// The VPC the ops change, and what this run made in it.
pub struct Vpc<'a> {
    ec2: &'a Client,
    id: &'a str,
    /// The internet gateway's id once `CreateGateway` has answered.
    new_gateway: Mutex<Option<String>>,
}

impl<'a> Vpc<'a> {
    pub fn new(ec2: &'a Client, id: &'a str) -> Self {
        Vpc { ec2, id, new_gateway: Mutex::new(None) }
    }

    /// The gateway this run created, if it did.
    pub fn created_gateway(&self) -> Option<String> {
        self.new_gateway.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    fn gateway_id(&self, g: &GatewayRef) -> anyhow::Result<String> {
        match g {
            GatewayRef::Existing(id) => Ok(id.clone()),
            GatewayRef::New => self.created_gateway().ok_or_else(|| anyhow::anyhow!("no gateway created")),
        }
    }

    /// Sends one op; returns the id the op's change gets: the gateway it
    /// created, or for a route the gateway it goes to.
    pub async fn send(&self, op: &Op) -> anyhow::Result<Option<String>> {
        let (ec2, vpc) = (self.ec2, self.id);
        match op {
            Op::EnableDnsSupport => {
                let set = ec2.modify_vpc_attribute().vpc_id(vpc).enable_dns_support(enabled());
                set.send().await.aws_context(format!("enabling DNS support on {vpc}"))?;
            }
            Op::EnableDnsHostnames => {
                let set = ec2.modify_vpc_attribute().vpc_id(vpc).enable_dns_hostnames(enabled());
                set.send().await.aws_context(format!("enabling DNS hostnames on {vpc}"))?;
            }
            Op::CreateGateway { tags } => {
                let id = create_gateway(ec2, tags).await?;
                *self.new_gateway.lock().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(id.clone());
                return Ok(Some(id));
            }
            Op::TagGateway { id, tags } => {
                eventually(|| ec2.create_tags().resources(id).set_tags(Some(sdk_tags(tags))).send())
                    .await
                    .aws_context(format!("tagging internet gateway {id}"))?;
            }
            Op::AttachGateway(g) => attach_gateway(ec2, vpc, &self.gateway_id(g)?).await?,
            Op::CreateRoute { route_table, gateway } => {
                let id = self.gateway_id(gateway)?;
                create_route(ec2, vpc, route_table, &id).await?;
                return Ok(Some(id));
            }
            Op::DeleteRoute { route_table } => {
                ec2.delete_route()
                    .route_table_id(route_table)
                    .destination_cidr_block(ANYWHERE)
                    .send()
                    .await
                    .aws_context(format!("removing route {ANYWHERE} from {route_table}"))?;
            }
            Op::DetachGateway { id } => {
                eventually(|| ec2.detach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send())
                    .await
                    .aws_context(format!("detaching internet gateway {id} from {vpc}"))?;
            }
            Op::DeleteGateway { id } => {
                ec2.delete_internet_gateway()
                    .internet_gateway_id(id)
                    .send()
                    .await
                    .aws_context(format!("deleting internet gateway {id}"))?;
            }
        }
        Ok(None)
    }
}

fn enabled() -> AttributeBooleanValue {
    AttributeBooleanValue::builder().value(true).build()
}

/// Creates the gateway, tagged in the same call, so an interrupted run
/// leaves a gateway the next run recognises as its own. Nothing
/// deduplicates this create: sent once per try, and after a lost answer
/// the gateway is looked for by its tags (the plan creates one only when
/// none of ours is detached).
async fn create_gateway(ec2: &Client, tags: &[(String, String)]) -> anyhow::Result<String> {
    let no_retries = aws_sdk_ec2::config::Config::builder().retry_config(common::once::no_retries());
    let ours: Vec<Filter> = tags.iter().map(|(k, v)| filter(&format!("tag:{k}"), [v.as_str()])).collect();
    common::once::at_most_once(
        "creating an internet gateway",
        || async {
            let out = ec2
                .create_internet_gateway()
                .tag_specifications(tag_spec(ResourceType::InternetGateway, tags))
                .customize()
                .config_override(no_retries.clone())
                .send()
                .await?;
            Ok(out.internet_gateway().and_then(|g| g.internet_gateway_id()).unwrap_or_default().to_owned())
        },
        || async {
            let found = gateways(ec2, ours.clone()).await?;
            Ok(found.into_iter().find(|g| g.attached_to.is_empty()).map(|g| g.id))
        },
    )
    .await
}

/// Attaches the gateway, waiting out a new gateway not yet visible to EC2.
async fn attach_gateway(ec2: &Client, vpc: &str, id: &str) -> anyhow::Result<()> {
    let what = format!("attaching internet gateway {id} to {vpc}");
    match eventually(|| ec2.attach_internet_gateway().internet_gateway_id(id).vpc_id(vpc).send()).await {
        Ok(_) => Ok(()),
        // Already so: a retry of an attach whose answer was lost.
        Err(e) if aws_error_code(&e) == Some("Resource.AlreadyAssociated") => {
            let found = gateways(ec2, vec![filter("internet-gateway-id", [id])]).await?;
            if found.iter().any(|g| g.attached_to.iter().any(|v| v == vpc)) {
                Ok(())
            } else {
                Err(e).aws_context(format!("{what} (it is attached elsewhere)"))
            }
        }
        Err(e) => Err(e).aws_context(what),
    }
}

/// Adds `0.0.0.0/0 -> gateway` to the table.
async fn create_route(ec2: &Client, vpc: &str, route_table: &str, id: &str) -> anyhow::Result<()> {
    let what = format!("adding route {ANYWHERE} -> {id} to {route_table}");
    let call = ec2.create_route().route_table_id(route_table).destination_cidr_block(ANYWHERE).gateway_id(id).send();
    match call.await {
        Ok(_) => Ok(()),
        // Already there: a retry of a create whose answer was lost, fine
        // if it goes to our gateway.
        Err(e) if aws_error_code(&e) == Some("RouteAlreadyExists") => {
            let tables = route_tables(ec2, vpc).await?;
            let target = tables.iter().find(|t| t.id == route_table).and_then(|t| t.default_route.clone());
            if target.as_deref() != Some(id) {
                anyhow::bail!(
                    "{what}: RouteAlreadyExists: {route_table} already sends {ANYWHERE} to {}, not to {id}; \
                     remove that route or name another route table",
                    target.as_deref().unwrap_or("an unknown target")
                );
            }
            Ok(())
        }
        Err(e) => Err(e).aws_context(what),
    }
}
