//! The billing example (the TentMan seed) under a clock the test drives: rent is billed at
//! 02:00 UTC on the 26th, utilities at 03:00 UTC on Mondays, once per organization and period
//! however often the job runs.

mod common;

#[allow(unreachable_pub)]
#[path = "../examples/billing.rs"]
mod billing;

use std::sync::Arc;

use billing::{Ledger, MonthlyRent, WeeklyUtilities, schedule_billing};
use stoker::testing::drain;
use stoker::{ManualClock, Stoker};

fn at(text: &str) -> chrono::DateTime<chrono::Utc> {
    text.parse().unwrap()
}

#[actix_rt::test]
async fn rent_and_utilities_are_billed_on_schedule_once_per_period() {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(at("2026-11-26T01:59:00Z")));
    let ledger = Arc::new(Ledger::new(&["acme", "globex"]));
    let stoker = Stoker::builder()
        .register::<MonthlyRent>()
        .register::<WeeklyUtilities>()
        .shared_data(ledger.clone())
        .storage(common::backend::storage(dir.path()))
        .clock(clock.clone())
        .build()
        .unwrap();
    let workspace = stoker.workspace("tentman").await.unwrap();
    schedule_billing(&workspace).await.unwrap();
    schedule_billing(&workspace).await.unwrap(); // at every start: still two recurring jobs
    let recurring = workspace.recurring_jobs().await.unwrap();
    let next: Vec<_> = recurring
        .iter()
        .map(|job| (job.id.as_str(), job.next_execution.unwrap()))
        .collect();
    assert_eq!(
        next,
        [
            ("monthly-rent", at("2026-11-26T02:00:00Z")),
            ("weekly-utilities", at("2026-11-30T03:00:00Z"))
        ]
    );

    clock.set(at("2026-11-26T02:00:00Z"));
    drain(&workspace).await.unwrap();
    let invoices = |kind: &str| -> Vec<_> {
        let all = ledger.invoices().into_iter();
        all.filter(|(_, k, _, _)| *k == kind).collect()
    };
    let rent = invoices("rent");
    assert_eq!(rent.len(), 2, "{rent:?}");
    assert!(
        rent.iter()
            .all(|(_, _, period, cents)| period == "2026-11" && *cents == 120_000)
    );

    // A second run for the same month (a retry, or a person's trigger) bills nothing twice.
    workspace.trigger("monthly-rent").await.unwrap();
    drain(&workspace).await.unwrap();
    assert_eq!(ledger.invoices().len(), 2);

    clock.set(at("2026-11-30T03:00:00Z"));
    drain(&workspace).await.unwrap();
    let utilities = invoices("utilities");
    assert_eq!(utilities.len(), 2, "{utilities:?}");
    assert!(
        utilities
            .iter()
            .all(|(_, _, period, _)| period == "2026-W49")
    );
    stoker.shutdown().await;
}
