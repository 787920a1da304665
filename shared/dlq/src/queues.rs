//! The dead-letter queues of the topology, each with the work queue its letters go back to.

use scimsync_schema::topology::WORK_QUEUES;

/// A dead-letter queue and the work queue its messages go back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetterQueue {
    pub name: String,
    pub work_queue: String,
}

/// Every dead-letter queue of the topology.
pub fn all_queues() -> Vec<DeadLetterQueue> {
    WORK_QUEUES
        .iter()
        .map(|q| DeadLetterQueue {
            name: q.dead_letter_queue(),
            work_queue: q.name.to_owned(),
        })
        .collect()
}

/// A queue name that is neither a dead-letter queue nor a work queue of the topology.
#[derive(Debug, thiserror::Error)]
#[error("unknown queue {name:?}; the dead-letter queues are: {}", known.join(", "))]
pub struct UnknownQueue {
    pub name: String,
    pub known: Vec<String>,
}

/// The dead-letter queue an operator named, by its own name or its work queue's.
pub fn resolve(name: &str) -> Result<DeadLetterQueue, UnknownQueue> {
    let queues = all_queues();
    let name = name.trim();
    queues
        .iter()
        .find(|q| q.name == name || q.work_queue == name)
        .cloned()
        .ok_or_else(|| UnknownQueue {
            name: name.to_owned(),
            known: queues.iter().map(|q| q.name.clone()).collect(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queues_are_named_by_either_name_and_typos_list_the_real_ones() {
        let dlq = resolve("scimsync.user-upsert.dlq").expect("dlq name");
        assert_eq!(dlq.work_queue, "scimsync.user-upsert");
        assert_eq!(
            resolve("scimsync.user-upsert").expect("work queue name"),
            dlq
        );
        let error = resolve("user-upsert.dlq").expect_err("unknown").to_string();
        assert!(error.contains("scimsync.user-upsert.dlq"), "{error}");
    }
}
