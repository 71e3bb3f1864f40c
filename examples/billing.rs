//! Billing as the TentMan application does it with Hangfire, done with stoker: monthly rent
//! on the 26th at 02:00 UTC (`0 2 26 * *`) and utility billing every Monday at 03:00 UTC
//! (`0 3 * * 1`), each iterating the organizations and issuing one invoice per organization and
//! period. Billing is idempotent: a retried run (after a crash, say) issues nothing twice. The
//! period is taken from the runtime's clock, so tests can drive it.
//!
//! `cargo run --release --example billing` sets both up in workspace `tentman`, triggers each
//! once to show its work, and prints the invoices.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::Datelike;
use serde::{Deserialize, Serialize};
use stoker::{EventKind, Job, JobContext, JobError, NewJob, RecurringOptions, Stoker, Workspace};

/// The application's data, as its jobs see it (a database in a real application).
#[derive(Debug, Default)]
pub struct Ledger {
    organizations: Vec<String>,
    /// Invoices by (organization, what, period).
    invoices: Mutex<BTreeMap<(String, &'static str, String), u64>>,
}

impl Ledger {
    /// A ledger with these organizations.
    pub fn new(organizations: &[&str]) -> Self {
        Ledger {
            organizations: organizations.iter().map(|name| name.to_string()).collect(),
            invoices: Mutex::default(),
        }
    }

    /// Issues an invoice unless one exists for the organization, kind and period: true if it
    /// was issued now.
    fn issue(&self, organization: &str, kind: &'static str, period: &str, cents: u64) -> bool {
        let key = (organization.to_owned(), kind, period.to_owned());
        let mut invoices = self.invoices.lock().expect("ledger lock");
        match invoices.contains_key(&key) {
            true => false,
            false => {
                invoices.insert(key, cents);
                true
            }
        }
    }

    /// Every invoice: (organization, kind, period, cents).
    pub fn invoices(&self) -> Vec<(String, &'static str, String, u64)> {
        let invoices = self.invoices.lock().expect("ledger lock");
        invoices
            .iter()
            .map(|((org, kind, period), cents)| (org.clone(), *kind, period.clone(), *cents))
            .collect()
    }
}

/// Bills this month's rent to every organization.
#[derive(Serialize, Deserialize)]
pub struct MonthlyRent {
    /// Rent per organization, in cents.
    pub cents: u64,
}

impl Job for MonthlyRent {
    const NAME: &'static str = "billing.monthly_rent";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let ledger = ctx
            .data::<Ledger>()
            .ok_or_else(|| JobError::fatal("no ledger"))?;
        let today = ctx.now().date_naive();
        let period = format!("{}-{:02}", today.year(), today.month());
        for organization in &ledger.organizations {
            ledger.issue(organization, "rent", &period, self.cents);
        }
        Ok(())
    }
}

/// Bills this week's utilities to every organization.
#[derive(Serialize, Deserialize)]
pub struct WeeklyUtilities {
    /// Utilities per organization, in cents.
    pub cents: u64,
}

impl Job for WeeklyUtilities {
    const NAME: &'static str = "billing.weekly_utilities";

    async fn run(self, ctx: JobContext) -> Result<(), JobError> {
        let ledger = ctx
            .data::<Ledger>()
            .ok_or_else(|| JobError::fatal("no ledger"))?;
        let week = ctx.now().date_naive().iso_week();
        let period = format!("{}-W{:02}", week.year(), week.week());
        for organization in &ledger.organizations {
            ledger.issue(organization, "utilities", &period, self.cents);
        }
        Ok(())
    }
}

/// Sets up both recurring billing jobs in `workspace` (idempotent: run it at every start).
pub async fn schedule_billing(workspace: &Workspace) -> stoker::Result<()> {
    let utc = RecurringOptions::default();
    let rent = NewJob::of(&MonthlyRent { cents: 120_000 });
    workspace
        .add_or_update_recurring("monthly-rent", rent, "0 2 26 * *", utc.clone())
        .await?;
    let utilities = NewJob::of(&WeeklyUtilities { cents: 4_500 });
    workspace
        .add_or_update_recurring("weekly-utilities", utilities, "0 3 * * 1", utc)
        .await?;
    Ok(())
}

#[allow(dead_code)]
#[actix_rt::main]
async fn main() -> anyhow::Result<()> {
    let ledger = Arc::new(Ledger::new(&["acme-lettings", "harbour-flats", "old-mill"]));
    let stoker = Stoker::builder()
        .register::<MonthlyRent>()
        .register::<WeeklyUtilities>()
        .shared_data(ledger.clone())
        .build()?;
    let workspace = stoker.workspace("tentman").await?;
    schedule_billing(&workspace).await?;
    for recurring in workspace.recurring_jobs().await? {
        let next = recurring
            .next_execution
            .map(|at| at.to_rfc3339())
            .unwrap_or_default();
        println!("{:<17} {:<12} next {next}", recurring.id, recurring.cron);
    }
    // Show the work now rather than waiting for the 26th or Monday, and wait to be told it ran.
    let mut events = stoker.events();
    let mut running = vec![
        workspace.trigger("monthly-rent").await?,
        workspace.trigger("weekly-utilities").await?,
    ];
    while !running.is_empty() {
        let Some(event) = events.next().await else {
            break;
        };
        if let EventKind::Succeeded | EventKind::Failed { will_retry: false } = event.kind {
            running.retain(|id| *id != event.job);
        }
    }
    for (organization, kind, period, cents) in ledger.invoices() {
        println!("invoice: {organization:<14} {kind:<10} {period:<9} {cents:>7} cents");
    }
    stoker.shutdown().await;
    Ok(())
}
