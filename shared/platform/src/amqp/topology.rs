//! The broker topology as data (SPEC A2): declared idempotently by every service at start-up,
//! and exported as a RabbitMQ definitions file for operators, from the same plan.

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};
use scimsync_schema::topology::{
    WorkQueue, DEAD_LETTER_EXCHANGE, DELAY_TIERS, EVENTS_EXCHANGE, WORK_QUEUES,
};
use serde_json::{json, Map, Value};

/// Where events nobody consumes end up (for example `scim.organization.update`), so that
/// `mandatory` publishing never bounces a valid webhook.
pub const UNROUTED_EXCHANGE: &str = "scimsync.unrouted";
pub const UNROUTED_QUEUE: &str = "scimsync.unrouted";
const UNROUTED_MAX_LENGTH: i64 = 100_000;

#[derive(Debug, Clone)]
pub struct ExchangeSpec {
    pub name: String,
    pub kind: &'static str,
    pub arguments: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct QueueSpec {
    pub name: String,
    pub arguments: Map<String, Value>,
}

#[derive(Debug, Clone)]
pub struct BindingSpec {
    pub exchange: String,
    pub queue: String,
    pub routing_key: String,
}

#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub exchanges: Vec<ExchangeSpec>,
    pub queues: Vec<QueueSpec>,
    pub bindings: Vec<BindingSpec>,
}

fn args(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

/// The whole topology for the given work queues.
pub fn plan(queues: &[WorkQueue], delivery_limit: u32) -> Plan {
    let mut plan = Plan::default();
    plan.exchanges.push(ExchangeSpec {
        name: EVENTS_EXCHANGE.into(),
        kind: "topic",
        // Unmatched routing keys go to the unrouted exchange instead of bouncing.
        arguments: args(&[("alternate-exchange", json!(UNROUTED_EXCHANGE))]),
    });
    plan.exchanges.push(ExchangeSpec {
        name: DEAD_LETTER_EXCHANGE.into(),
        kind: "direct",
        arguments: Map::new(),
    });
    plan.exchanges.push(ExchangeSpec {
        name: UNROUTED_EXCHANGE.into(),
        kind: "fanout",
        arguments: Map::new(),
    });
    plan.queues.push(QueueSpec {
        name: UNROUTED_QUEUE.into(),
        arguments: args(&[
            ("x-queue-type", json!("quorum")),
            // Bounded: these events are kept for inspection, not processed.
            ("x-max-length", json!(UNROUTED_MAX_LENGTH)),
        ]),
    });
    plan.bindings.push(BindingSpec {
        exchange: UNROUTED_EXCHANGE.into(),
        queue: UNROUTED_QUEUE.into(),
        routing_key: String::new(),
    });
    for queue in queues {
        let dlq = queue.dead_letter_queue();
        plan.queues.push(QueueSpec {
            name: dlq.clone(),
            arguments: args(&[("x-queue-type", json!("quorum"))]),
        });
        plan.bindings.push(BindingSpec {
            exchange: DEAD_LETTER_EXCHANGE.into(),
            queue: dlq,
            routing_key: queue.name.into(),
        });
        plan.queues.push(QueueSpec {
            name: queue.name.into(),
            arguments: args(&[
                // Replicated and durable: a node loss does not lose accepted events.
                ("x-queue-type", json!("quorum")),
                // A message that crashes its handler over and over is dead-lettered, not looped.
                ("x-delivery-limit", json!(delivery_limit)),
                ("x-dead-letter-exchange", json!(DEAD_LETTER_EXCHANGE)),
                ("x-dead-letter-routing-key", json!(queue.name)),
            ]),
        });
        for key in queue.bindings {
            plan.bindings.push(BindingSpec {
                exchange: EVENTS_EXCHANGE.into(),
                queue: queue.name.into(),
                routing_key: (*key).into(),
            });
        }
        for tier in DELAY_TIERS {
            plan.queues.push(QueueSpec {
                name: queue.delay_queue(*tier),
                arguments: args(&[
                    ("x-message-ttl", json!(tier.as_millis() as u64)),
                    // Expired messages go back to this worker's queue only (default exchange,
                    // routing key = queue name), never to the other workers.
                    ("x-dead-letter-exchange", json!("")),
                    ("x-dead-letter-routing-key", json!(queue.name)),
                ]),
            });
        }
    }
    plan
}

/// The plan for every known work queue.
pub fn full_plan(delivery_limit: u32) -> Plan {
    plan(WORK_QUEUES, delivery_limit)
}

fn field_table(arguments: &Map<String, Value>) -> FieldTable {
    let mut table = FieldTable::default();
    for (key, value) in arguments {
        let value = match value {
            Value::String(s) => AMQPValue::LongString(LongString::from(s.clone())),
            Value::Number(n) => AMQPValue::LongLongInt(n.as_i64().unwrap_or_default()),
            Value::Bool(b) => AMQPValue::Boolean(*b),
            other => AMQPValue::LongString(LongString::from(other.to_string())),
        };
        table.insert(ShortString::from(key.clone()), value);
    }
    table
}

/// Declares everything in the plan. Idempotent: re-declaring with the same arguments is a no-op.
pub async fn declare(channel: &Channel, plan: &Plan) -> Result<(), lapin::Error> {
    for exchange in &plan.exchanges {
        let kind = match exchange.kind {
            "topic" => ExchangeKind::Topic,
            "fanout" => ExchangeKind::Fanout,
            _ => ExchangeKind::Direct,
        };
        channel
            .exchange_declare(
                &exchange.name,
                kind,
                // Durable: the topology survives a broker restart.
                ExchangeDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                field_table(&exchange.arguments),
            )
            .await?;
    }
    for queue in &plan.queues {
        channel
            .queue_declare(
                &queue.name,
                // Durable and shared by every replica of a worker (not exclusive).
                QueueDeclareOptions {
                    durable: true,
                    ..Default::default()
                },
                field_table(&queue.arguments),
            )
            .await?;
    }
    for binding in &plan.bindings {
        channel
            .queue_bind(
                &binding.queue,
                &binding.exchange,
                &binding.routing_key,
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    Ok(())
}

/// A RabbitMQ definitions document (`rabbitmqctl import_definitions`) for the plan.
pub fn definitions(plan: &Plan, vhost: &str) -> Value {
    json!({
        "exchanges": plan.exchanges.iter().map(|e| json!({
            "name": e.name, "vhost": vhost, "type": e.kind, "durable": true,
            "auto_delete": false, "internal": false, "arguments": e.arguments,
        })).collect::<Vec<_>>(),
        "queues": plan.queues.iter().map(|q| json!({
            "name": q.name, "vhost": vhost, "durable": true, "auto_delete": false,
            "arguments": q.arguments,
        })).collect::<Vec<_>>(),
        "bindings": plan.bindings.iter().map(|b| json!({
            "source": b.exchange, "vhost": vhost, "destination": b.queue,
            "destination_type": "queue", "routing_key": b.routing_key, "arguments": {},
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use scimsync_schema::topology::USER_UPSERT;

    #[test]
    fn every_work_queue_has_a_dlq_and_delay_tiers_that_return_to_it() {
        let plan = plan(&[USER_UPSERT], 20);
        let dlq = USER_UPSERT.dead_letter_queue();
        assert!(plan.queues.iter().any(|q| q.name == dlq));
        let delays: Vec<_> = plan
            .queues
            .iter()
            .filter(|q| q.name.contains(".delay."))
            .collect();
        assert_eq!(delays.len(), DELAY_TIERS.len());
        for d in delays {
            assert_eq!(
                d.arguments["x-dead-letter-routing-key"],
                json!(USER_UPSERT.name)
            );
            assert!(d.arguments["x-message-ttl"].as_u64().unwrap_or(0) >= 1000);
        }
        let work = plan
            .queues
            .iter()
            .find(|q| q.name == USER_UPSERT.name)
            .map(|q| &q.arguments);
        assert_eq!(work.map(|a| &a["x-delivery-limit"]), Some(&json!(20)));
    }

    #[test]
    fn definitions_name_every_queue() {
        let plan = full_plan(20);
        let defs = definitions(&plan, "/");
        let names: Vec<_> = defs["queues"]
            .as_array()
            .map(|qs| qs.iter().filter_map(|q| q["name"].as_str()).collect())
            .unwrap_or_default();
        for q in &plan.queues {
            assert!(names.contains(&q.name.as_str()));
        }
    }
}
