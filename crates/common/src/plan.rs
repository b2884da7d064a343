//! A tool's plan and the one loop that applies it.
//!
//! Every tool turns what it wants (`desired`) and what exists (`observe`)
//! into a [`Plan`] by pure code: a list of [`Step`]s, each the change(s) it
//! makes to one resource in the report's terms ([`Change`]: kind, name,
//! action, before -> after) and the tool's own operations that make it
//! (`Op`, an enum of the tool's calls), plus the [`Finding`]s. [`apply`]
//! then runs the steps, the same way for every tool:
//!
//! - under `--dry-run` it sends nothing (the call counter refuses any
//!   mutating call anyway) and reports every step's change as `would-…`;
//! - otherwise phase by phase in ascending order; the steps of one phase
//!   concurrently, each step's operations in order;
//! - every step that finished is in the report, even when another failed;
//!   the first failure is returned once its phase has settled.
//!
//! What a tool knows alone (how to send one `Op`) is the closure it passes.

use futures::future::join_all;
use serde::Serialize;

use crate::cli::Run;
use crate::report::{Action, Change, Finding};

/// One resource's change(s) and the calls that make them, in order.
#[derive(Debug, Clone)]
pub struct Step<Op> {
    /// Steps of one phase run concurrently, phases in ascending order: what
    /// a phase needs exists by the time it starts.
    pub phase: u8,
    /// Usually one; several when one call changes several resources (rules
    /// authorised together).
    pub changes: Vec<Change>,
    pub ops: Vec<Op>,
}

impl<Op> Step<Op> {
    pub fn new(change: Change, ops: Vec<Op>) -> Self {
        Step { phase: 0, changes: vec![change], ops }
    }

    /// A step that changes several resources with the same calls.
    pub fn batch(changes: Vec<Change>, ops: Vec<Op>) -> Self {
        Step { phase: 0, changes, ops }
    }

    /// A step with nothing to do.
    pub fn unchanged(change: Change) -> Self {
        Step::new(change, Vec::new())
    }

    /// A step that changes no resource of the report: a wait between
    /// phases (for instances to run), a cleanup of local files.
    pub fn ops_only(ops: Vec<Op>) -> Self {
        Step { phase: 0, changes: Vec::new(), ops }
    }

    pub fn in_phase(mut self, phase: u8) -> Self {
        self.phase = phase;
        self
    }

    /// The step's (first) change.
    ///
    /// # Panics
    /// On a step of [`Step::ops_only`], which has none.
    pub fn change(&self) -> &Change {
        &self.changes[0]
    }
}

/// A tool's plan: its steps in order, and what the operator should know.
#[derive(Debug, Clone)]
pub struct Plan<Op> {
    pub steps: Vec<Step<Op>>,
    pub findings: Vec<Finding>,
}

impl<Op> Default for Plan<Op> {
    fn default() -> Self {
        Plan { steps: Vec::new(), findings: Vec::new() }
    }
}

/// How many resources a plan creates, updates, deletes or leaves alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
}

impl<Op> Plan<Op> {
    pub fn step(&mut self, step: Step<Op>) {
        self.steps.push(step);
    }

    pub fn finding(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    pub fn warn(&mut self, message: impl Into<String>) {
        self.findings.push(Finding::warning(message));
    }

    pub fn info(&mut self, message: impl Into<String>) {
        self.findings.push(Finding::info(message));
    }

    /// Every change of every step, in order.
    pub fn changes(&self) -> impl Iterator<Item = &Change> {
        self.steps.iter().flat_map(|s| s.changes.iter())
    }

    /// The plan's changes counted by action.
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for c in self.changes() {
            match c.action {
                Action::Create => t.create += 1,
                Action::Update => t.update += 1,
                Action::Delete => t.delete += 1,
                Action::Unchanged => t.unchanged += 1,
            }
        }
        t
    }

    /// Whether applying it would send any call.
    pub fn has_work(&self) -> bool {
        self.steps.iter().any(|s| !s.ops.is_empty())
    }
}

async fn apply_step<Op, F>(step: &Step<Op>, apply_op: &F) -> anyhow::Result<Vec<Change>>
where
    F: AsyncFn(&Op) -> anyhow::Result<Option<String>>,
{
    let mut id = None;
    for op in &step.ops {
        if let Some(new) = apply_op(op).await? {
            id = Some(new);
        }
    }
    let mut changes = step.changes.clone();
    for c in &mut changes {
        if let Some(id) = &id {
            c.id = Some(id.clone());
        }
        if c.action.is_change() {
            tracing::info!("{} {} {}", c.action.word(false), c.kind, c.name);
        }
    }
    Ok(changes)
}

/// Records the plan's findings, then performs it (see the module's doc).
/// `apply_op` sends one operation; an id it returns (of a resource the
/// operation made) becomes the id of the step's changes.
pub async fn apply<Op, F>(run: &mut Run, plan: &Plan<Op>, apply_op: F) -> anyhow::Result<()>
where
    F: AsyncFn(&Op) -> anyhow::Result<Option<String>>,
{
    run.report.record(&plan.findings);
    if run.dry_run() {
        for c in plan.changes() {
            run.report.change(c.clone());
        }
        return Ok(());
    }
    let mut phases: Vec<u8> = plan.steps.iter().map(|s| s.phase).collect();
    phases.sort_unstable();
    phases.dedup();
    for phase in phases {
        let steps: Vec<&Step<Op>> = plan.steps.iter().filter(|s| s.phase == phase).collect();
        let results = join_all(steps.iter().map(|s| apply_step(s, &apply_op))).await;
        let mut first_err = None;
        for r in results {
            match r {
                Ok(changes) => changes.into_iter().for_each(|c| run.report.change(c)),
                Err(e) => match first_err {
                    None => first_err = Some(e),
                    Some(_) => tracing::error!("{}", crate::error::one_line(&format!("{e:#}"))),
                },
            }
        }
        if let Some(e) = first_err {
            return Err(e);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;

    use super::*;

    #[derive(Debug, Clone, PartialEq)]
    enum Op {
        Make(&'static str),
        Fail,
    }

    fn plan() -> Plan<Op> {
        let mut p = Plan::default();
        p.step(Step::new(Change::new("thing", "b", Action::Create), vec![Op::Make("id-b")]).in_phase(1));
        p.step(Step::new(Change::new("thing", "a", Action::Create), vec![Op::Make("id-a")]));
        p.step(Step::unchanged(Change::new("thing", "c", Action::Unchanged)));
        p.warn("look out");
        p
    }

    #[test]
    fn totals_count_changes() {
        let mut p = plan();
        p.step(Step::batch(
            vec![Change::new("rule", "r1", Action::Delete), Change::new("rule", "r2", Action::Delete)],
            vec![],
        ));
        assert_eq!(p.totals(), Totals { create: 2, update: 0, delete: 2, unchanged: 1 });
        assert!(p.has_work());
    }

    #[tokio::test]
    async fn phases_in_order_ids_recorded() {
        let mut run = Run::new("t");
        let sent = RefCell::new(Vec::new());
        apply(&mut run, &plan(), async |op: &Op| {
            sent.borrow_mut().push(op.clone());
            match op {
                Op::Make(id) => Ok(Some((*id).to_owned())),
                Op::Fail => anyhow::bail!("boom"),
            }
        })
        .await
        .unwrap();
        assert_eq!(*sent.borrow(), vec![Op::Make("id-a"), Op::Make("id-b")], "phase 0 first");
        let names: Vec<_> = run.report.changes.iter().map(|c| (c.name.as_str(), c.id.as_deref())).collect();
        assert_eq!(names, vec![("a", Some("id-a")), ("c", None), ("b", Some("id-b"))]);
        assert_eq!(run.report.findings.len(), 1);
    }

    #[tokio::test]
    async fn dry_run_sends_nothing_and_reports_everything() {
        let mut run = Run::new("t");
        run.set_dry_run(true);
        apply(&mut run, &plan(), async |_: &Op| -> anyhow::Result<Option<String>> { panic!("nothing is sent") })
            .await
            .unwrap();
        assert_eq!(run.report.changes.len(), 3);
        assert_eq!(run.report.findings[0].message, "look out");
    }

    #[tokio::test]
    async fn finished_steps_are_reported_when_one_fails() {
        let mut run = Run::new("t");
        let mut p = plan();
        p.steps[1].ops.push(Op::Fail);
        p.step(Step::new(Change::new("thing", "d", Action::Create), vec![Op::Make("id-d")]));
        let e = apply(&mut run, &p, async |op: &Op| match op {
            Op::Make(id) => Ok(Some((*id).to_owned())),
            Op::Fail => anyhow::bail!("boom"),
        })
        .await
        .unwrap_err();
        assert_eq!(e.to_string(), "boom");
        let names: Vec<_> = run.report.changes.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, vec!["c", "d"], "phase 0 settled; phase 1 never started");
    }
}
