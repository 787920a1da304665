//! How `scimctl dlq` prints counts and dead letters for a person.

use scimsync_dlq::letter::DeadLetter;
use scimsync_dlq::list::QueueCount;

pub fn counts(counts: &[QueueCount]) {
    println!(
        "{:<36} {:<28} {:<28} {:>8}",
        "QUEUE", "REASON", "EVENT TYPE", "COUNT"
    );
    for queue in counts {
        if !queue.exists {
            println!("{:<36} (not declared yet)", queue.queue);
            continue;
        }
        println!(
            "{:<36} {:<28} {:<28} {:>8}",
            queue.queue, "(all)", "", queue.messages
        );
        for group in &queue.groups {
            println!(
                "{:<36} {:<28} {:<28} {:>8}",
                "", group.reason, group.event_type, group.count
            );
        }
    }
}

/// Prints one dead letter for a person.
pub fn letter(index: usize, total: usize, letter: &DeadLetter) {
    let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
    println!("--- {}/{} in {}", index + 1, total, letter.queue);
    println!("reason        {}", letter.reason);
    println!("detail        {}", or_dash(&letter.detail));
    println!(
        "failed at     {}",
        letter
            .failed_at
            .map(|t| t.to_rfc3339())
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "original      exchange {} routing key {}",
        or_dash(&letter.original_exchange),
        or_dash(&letter.original_routing_key)
    );
    println!(
        "attempts      {}",
        letter
            .attempts
            .map(|a| a.to_string())
            .unwrap_or_else(|| "-".into())
    );
    println!(
        "event         {} ({})",
        or_dash(&letter.event_id),
        or_dash(&letter.event_type)
    );
    println!("organization  {}", or_dash(&letter.organization_id));
    println!("message id    {}", or_dash(&letter.message_id));
    println!("dead-lettered by {:?}", letter.dead_lettered_by);
    println!("headers");
    for (key, value) in &letter.headers {
        println!("  {key}: {value}");
    }
    println!("body");
    let body = serde_json::to_string_pretty(&letter.body).unwrap_or_default();
    for line in body.lines() {
        println!("  {line}");
    }
}
