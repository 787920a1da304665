//! `scimctl dlq`: list, inspect, replay and purge dead letters (SPEC A6), a command line over
//! the `scimsync-dlq` library (which the admin console's dead-letter pages use too). How a
//! queue is read without losing or looping is explained in [`reader`].

mod print;

use std::time::Duration;

use clap::{Args, Subcommand};
use indicatif::ProgressBar;
use scimsync_db::audit::Change;
use scimsync_platform::Settings;
use sea_orm::DatabaseConnection;
use secrecy::ExposeSecret;
use serde_json::json;

use crate::audit::Operator;

pub use scimsync_dlq::{
    all_queues, filter, letter, list, purge, reader, replay, show, DeadLetterQueue,
};

use self::filter::{parse_age, Filter};
use self::replay::{Progress, ReplayOptions};

#[derive(Subcommand)]
pub enum Command {
    /// Every dead-letter queue with its count, by reason and event type.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Dead letters with their headers and body (nothing is removed).
    Show {
        #[command(flatten)]
        queue: QueueArg,
        #[command(flatten)]
        filter: FilterArgs,
        /// Show at most this many.
        #[arg(long, default_value_t = 20)]
        limit: u64,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Put dead letters back to work on the queue they failed on (every dead-letter queue
    /// unless --queue names one).
    Replay(ReplayArgs),
    /// Delete dead letters for good (from every dead-letter queue unless --queue names one).
    Purge {
        #[command(flatten)]
        queue: QueuesArg,
        #[command(flatten)]
        filter: FilterArgs,
        /// Confirm: purged dead letters cannot be recovered.
        #[arg(long)]
        yes: bool,
    },
}

/// Which dead letters a command applies to.
#[derive(Debug, Clone, Default, Args)]
pub struct FilterArgs {
    /// Only dead letters with this reason (e.g. unknown_organization, delivery_limit); any
    /// other word is refused with the list of reasons.
    #[arg(long)]
    pub reason: Option<scimsync_schema::DeadLetterReason>,
    /// Only this event type (e.g. scim.member.create).
    #[arg(long = "event-type")]
    pub event_type: Option<String>,
    /// Only events of this company: its Stytch organization id (member and group webhooks and
    /// the workers' follow-ups name it; a member DELETE webhook carries no body and names
    /// none), or its id (the SCIM door's changes and the follow-ups name that).
    #[arg(long, alias = "organization")]
    pub company: Option<String>,
    /// Only dead letters that failed longer ago than this (e.g. 30m, 2h, 7d).
    #[arg(long = "older-than", value_parser = parse_age)]
    pub older_than: Option<Duration>,
}

impl From<FilterArgs> for Filter {
    fn from(args: FilterArgs) -> Self {
        Self {
            reason: args.reason,
            event_type: args.event_type,
            companies: args.company.into_iter().collect(),
            older_than: args.older_than,
        }
    }
}

#[derive(Args)]
pub struct QueueArg {
    /// A dead-letter queue (scimsync.user-upsert.dlq) or its work queue (scimsync.user-upsert).
    #[arg(long)]
    pub queue: String,
}

/// `--queue` where leaving it out means every dead-letter queue.
#[derive(Args, Default)]
pub struct QueuesArg {
    /// A dead-letter queue (scimsync.user-upsert.dlq) or its work queue (scimsync.user-upsert).
    /// Without it: every dead-letter queue.
    #[arg(long)]
    pub queue: Option<String>,
}

impl QueuesArg {
    pub fn resolve(&self) -> anyhow::Result<Vec<DeadLetterQueue>> {
        match &self.queue {
            Some(name) => Ok(vec![resolve(name)?]),
            None => Ok(all_queues()),
        }
    }
}

#[derive(Args)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub queue: QueuesArg,
    #[command(flatten)]
    pub filter: FilterArgs,
    /// Replay at most this many (in all, when replaying every queue).
    #[arg(long)]
    pub limit: Option<u64>,
    /// At most this many messages per second.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Only report what would be replayed.
    #[arg(long)]
    pub dry_run: bool,
    /// Exit like a crash right after the first republish is confirmed (tests of A6).
    #[arg(long, hide = true)]
    pub crash_after_publish: bool,
}

/// The dead-letter queue an operator named, by its own name or its work queue's.
pub fn resolve(name: &str) -> anyhow::Result<DeadLetterQueue> {
    Ok(scimsync_dlq::resolve(name)?)
}

fn progress_bar() -> ProgressBar {
    crate::progress_bar(0, "{bar:40} {pos}/{len} dead letters  {msg}  ({eta})")
}

/// Draws a replay's progress on `bar`.
pub fn draw(bar: &ProgressBar) -> impl Fn(Progress<'_>) + Sync + '_ {
    move |progress| match progress {
        Progress::Started { snapshot } => bar.set_length(snapshot),
        Progress::Read(summary) => {
            bar.set_position(summary.walked);
            bar.set_message(format!(
                "replayed {}, skipped {}, failed {}",
                summary.replayed, summary.skipped, summary.failed
            ));
        }
        Progress::Finished => bar.finish_and_clear(),
    }
}

/// Where a replay or purge is recorded: the database's audit trail, as the operator's. A
/// replay or purge connects to it before it changes anything, so no change goes unrecorded for
/// want of a database.
struct Recorder<'a> {
    db: DatabaseConnection,
    operator: &'a Operator,
}

impl Recorder<'_> {
    async fn connect<'a>(
        settings: &Settings,
        operator: &'a Operator,
    ) -> anyhow::Result<Recorder<'a>> {
        Ok(Recorder {
            db: scimsync_db::connect(&settings.database).await?,
            operator,
        })
    }

    /// One queue's replay or purge: the queue, the filter it ran with, and what it did.
    async fn record(
        &self,
        action: &str,
        queue: &str,
        filter: &Filter,
        after: serde_json::Value,
    ) -> anyhow::Result<()> {
        let before = json!({
            "reason": filter.reason.map(|r| r.as_str()),
            "event_type": filter.event_type,
            "companies": filter.companies,
            "older_than_secs": filter.older_than.map(|d| d.as_secs()),
        });
        let change = Change {
            action,
            company_id: None,
            target: Some(queue.to_owned()),
            before: Some(before),
            after: Some(after),
        };
        self.operator.record(&self.db, change).await
    }
}

pub async fn run(settings: &Settings, operator: &Operator, command: Command) -> anyhow::Result<()> {
    let url = settings.amqp.url.expose_secret();
    match command {
        Command::List { json } => {
            let counts = list::list(url, &all_queues()).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&counts)?);
            } else {
                print::counts(&counts);
            }
        }
        Command::Show {
            queue,
            filter,
            limit,
            json,
        } => {
            let queue = resolve(&queue.queue)?;
            let letters = show::show(url, &queue, &filter.into(), limit).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&letters)?);
            } else if letters.is_empty() {
                println!("no matching dead letters in {}", queue.name);
            } else {
                for (i, letter) in letters.iter().enumerate() {
                    print::letter(i, letters.len(), letter);
                }
            }
        }
        Command::Replay(args) => {
            let queues = args.queue.resolve()?;
            let options = ReplayOptions {
                filter: args.filter.into(),
                limit: args.limit,
                rate: args.rate,
                dry_run: args.dry_run,
                crash_after_publish: args.crash_after_publish,
            };
            let recorder = if options.dry_run {
                None
            } else {
                Some(Recorder::connect(settings, operator).await?)
            };
            replay_queues(url, &queues, options, recorder.as_ref()).await?;
        }
        Command::Purge { queue, filter, yes } => {
            let queues = queue.resolve()?;
            let names: Vec<&str> = queues.iter().map(|q| q.name.as_str()).collect();
            anyhow::ensure!(
                yes,
                "purge deletes dead letters from {} for good; add --yes to confirm",
                names.join(", ")
            );
            let filter = Filter::from(filter);
            let recorder = Recorder::connect(settings, operator).await?;
            for queue in &queues {
                let purged = purge::purge(url, queue, &filter).await?;
                println!("{}: purged {purged}", queue.name);
                recorder
                    .record(
                        "dead_letters.purge",
                        &queue.name,
                        &filter,
                        json!({ "purged": purged }),
                    )
                    .await?;
            }
        }
    }
    Ok(())
}

/// Replays each queue in turn, `--limit` counting across all of them; one summary line per
/// queue, and a failure if any dead letter could not be replayed.
async fn replay_queues(
    url: &str,
    queues: &[DeadLetterQueue],
    mut options: ReplayOptions,
    recorder: Option<&Recorder<'_>>,
) -> anyhow::Result<()> {
    let (mut done, mut failed, mut failed_in) = (0, 0, Vec::new());
    for queue in queues {
        if options.limit == Some(0) {
            break;
        }
        let bar = progress_bar();
        let summary = replay::replay(url, queue, &options, &draw(&bar)).await?;
        options.limit = options.limit.map(|l| l.saturating_sub(summary.matched));
        if summary.dry_run {
            println!(
                "dry run on {}: would replay {}, skipped by filter {}; nothing changed",
                summary.queue, summary.matched, summary.skipped
            );
            done += summary.matched;
        } else {
            println!(
                "{}: replayed {}, skipped by filter {}, failed {}",
                summary.queue, summary.replayed, summary.skipped, summary.failed
            );
            done += summary.replayed;
        }
        if let Some(recorder) = recorder {
            let after = json!({
                "replayed": summary.replayed,
                "skipped": summary.skipped,
                "failed": summary.failed,
            });
            recorder
                .record(
                    "dead_letters.replay",
                    &summary.queue,
                    &options.filter,
                    after,
                )
                .await?;
        }
        if summary.failed > 0 {
            failed += summary.failed;
            failed_in.push(summary.queue);
        }
    }
    if queues.len() > 1 {
        let verb = if options.dry_run {
            "would replay"
        } else {
            "replayed"
        };
        println!("every dead-letter queue: {verb} {done}, failed {failed}");
    }
    anyhow::ensure!(
        failed == 0,
        "{failed} dead letter(s) could not be replayed and are still in {}",
        failed_in.join(", ")
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::FilterArgs;

    /// A misspelt reason would select nothing, and a purge or replay "of nothing" would hide
    /// the mistake: it is refused, with the reasons there are.
    #[test]
    fn a_reason_no_worker_gives_is_refused_naming_the_reasons() {
        use clap::Parser;
        use scimsync_schema::DeadLetterReason;
        #[derive(Debug, Parser)]
        struct Cli {
            #[command(flatten)]
            filter: FilterArgs,
        }
        let error = Cli::try_parse_from(["dlq", "--reason", "unknown_organisation"])
            .expect_err("not a reason");
        let shown = error.to_string();
        assert!(shown.contains("unknown_organization"), "{shown}");
        assert!(shown.contains("delivery_limit"), "{shown}");
        let cli = Cli::try_parse_from(["dlq", "--reason", "delivery_limit"]).expect("a reason");
        assert_eq!(cli.filter.reason, Some(DeadLetterReason::DeliveryLimit));
    }
}
