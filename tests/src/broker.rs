//! Direct broker access for tests: publish raw bytes to a queue, read dead letters.

use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::BasicProperties;
use scimsync_platform::amqp::headers::get_str;

pub struct Broker {
    channel: lapin::Channel,
    _connection: lapin::Connection,
}

/// A message taken from a queue.
pub struct Taken {
    pub body: Vec<u8>,
    pub headers: FieldTable,
    /// The broker had delivered it before (to a consumer that did not acknowledge it).
    pub redelivered: bool,
}

impl Taken {
    pub fn header(&self, name: &str) -> Option<String> {
        get_str(&self.headers, name)
    }
}

impl Broker {
    pub async fn connect(amqp_url: &str) -> Self {
        let connection = scimsync_platform::amqp::connect(amqp_url, "test")
            .await
            .expect("connect to RabbitMQ");
        let channel = connection.create_channel().await.expect("channel");
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await
            .expect("confirm mode");
        Self {
            channel,
            _connection: connection,
        }
    }

    /// Puts bytes straight on a queue (default exchange), bypassing ingest's validation.
    pub async fn put(&self, queue: &str, body: &[u8]) {
        self.channel
            .basic_publish(
                "",
                queue,
                BasicPublishOptions::default(),
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
    }

    /// Publishes bytes to an exchange with a routing key (mandatory, confirmed), as a service
    /// would: every queue bound to the key gets it.
    pub async fn publish(&self, exchange: &str, routing_key: &str, body: &[u8]) {
        let confirm = self
            .channel
            .basic_publish(
                exchange,
                routing_key,
                BasicPublishOptions {
                    mandatory: true,
                    ..Default::default()
                },
                body,
                BasicProperties::default().with_delivery_mode(2),
            )
            .await
            .expect("publish")
            .await
            .expect("confirm");
        assert!(
            matches!(confirm, lapin::publisher_confirm::Confirmation::Ack(None)),
            "{exchange} {routing_key}: not routed: {confirm:?}"
        );
    }

    /// Ready messages in a queue, or `None` if it does not exist.
    pub async fn depth(&self, queue: &str) -> Option<u64> {
        let declared = self.declared(queue).await?;
        Some(u64::from(declared.message_count()))
    }

    /// Consumers of a queue, or `None` if it does not exist.
    pub async fn consumers(&self, queue: &str) -> Option<u32> {
        Some(self.declared(queue).await?.consumer_count())
    }

    async fn declared(&self, queue: &str) -> Option<lapin::Queue> {
        let connection = &self._connection;
        // A failed passive declare closes its channel, so use a throwaway one.
        let channel = connection.create_channel().await.ok()?;
        let options = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let declared = channel
            .queue_declare(queue, options, FieldTable::default())
            .await
            .ok()?;
        let _ = channel.close(200, "done").await;
        Some(declared)
    }

    /// Takes one message (acknowledging it), if any.
    pub async fn take(&self, queue: &str) -> Option<Taken> {
        let message = self
            .channel
            .basic_get(queue, BasicGetOptions::default())
            .await
            .expect("basic.get")?;
        message
            .delivery
            .ack(BasicAckOptions::default())
            .await
            .expect("ack");
        Some(Taken {
            redelivered: message.delivery.redelivered,
            body: message.delivery.data.clone(),
            headers: message
                .delivery
                .properties
                .headers()
                .clone()
                .unwrap_or_default(),
        })
    }
}
