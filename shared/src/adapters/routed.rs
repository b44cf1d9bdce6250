//! Sends each message through the providers of its route (`DELIVERY_ROUTES`),
//! in order, and fails over to the next only when a provider has certainly
//! not taken the message. A provider that may have sent it (no answer in
//! time), or that refused the recipient, ends the route: a second provider
//! would send a second code, or ignore the recipient's refusal. Providers
//! whose circuit breaker is open are skipped; a one-provider route never
//! consults the breakers (nothing to fail over to, nothing to read).

use std::sync::Arc;
use std::time::Duration;

use crate::adapters::aws_sms::AwsSmsSender;
use crate::adapters::plivo::PlivoSender;
use crate::adapters::twilio::TwilioSender;
use crate::domain::{Channel, Provider, Routes};
use crate::ports::{
    DeliveryError, Dispatched, Dispatcher, Handover, MessageSender, OutgoingMessage,
    ProviderHealth, ProviderOutcome,
};

/// Cheap to clone: every Verify service's copy shares the senders and the
/// breakers' view.
pub struct RoutedSender<M, H>(Arc<Route<M, H>>);

struct Route<M, H> {
    senders: Vec<(Provider, M)>,
    routes: Routes,
    health: H,
}

impl<M, H> Clone for RoutedSender<M, H> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<M: MessageSender, H: ProviderHealth> RoutedSender<M, H> {
    /// `senders` must hold every provider `routes` names (the configuration
    /// checks it); a route's provider without a sender is skipped.
    pub fn new(senders: Vec<(Provider, M)>, routes: Routes, health: H) -> Self {
        Self(Arc::new(Route {
            senders,
            routes,
            health,
        }))
    }

    fn sender(&self, provider: Provider) -> Option<&M> {
        self.0
            .senders
            .iter()
            .find_map(|(name, sender)| (*name == provider).then_some(sender))
    }
}

impl<H> RoutedSender<ProviderSender, H> {
    /// Opens each provider's connection at cold start.
    pub async fn warm_up(&self) {
        for (_, sender) in &self.0.senders {
            sender.warm_up().await;
        }
    }
}

impl<M: MessageSender, H: ProviderHealth> Dispatcher for RoutedSender<M, H> {
    async fn dispatch(&self, message: &OutgoingMessage) -> Result<Dispatched, DeliveryError> {
        let route = self
            .0
            .routes
            .for_message(message.to.region_code(), message.channel);
        let now = message.sent_at;
        let alone = route.len() == 1;
        let mut failure =
            DeliveryError::Unavailable("every provider of the route is paused".into());
        for &provider in route {
            let Some(sender) = self.sender(provider) else {
                continue;
            };
            // Another attempt only if the caller still waits for its answer.
            if !message.leaves_time_for(sender.max_duration()) {
                count(provider, "skipped");
                tracing::warn!(to = %message.to, provider = provider.as_str(), "too close to the deadline to try this provider");
                failure = DeliveryError::Unavailable("too close to the request's deadline".into());
                break;
            }
            if !alone && !self.0.health.admits(provider, now).await {
                count(provider, "skipped");
                continue;
            }
            let result = sender.send(message).await;
            let (outcome, health) = match &result {
                Ok(Handover::Accepted) => ("accepted", ProviderOutcome::Answered),
                Ok(Handover::Unconfirmed) => ("unconfirmed", ProviderOutcome::Failed),
                Err(DeliveryError::Recipient(_)) => ("refused", ProviderOutcome::Answered),
                Err(_) => ("failed", ProviderOutcome::Failed),
            };
            count(provider, outcome);
            if !alone {
                self.0.health.record(provider, health, now).await;
            }
            match result {
                // Certainly not taken: the next provider may send it.
                Err(error @ (DeliveryError::Unavailable(_) | DeliveryError::Misconfigured(_))) => {
                    tracing::warn!(to = %message.to, provider = provider.as_str(), outcome, "provider failed: trying the next of the route");
                    failure = error;
                }
                // Taken, maybe taken, or the recipient refused: done.
                done => return done.map(|handover| Dispatched { provider, handover }),
            }
        }
        Err(failure)
    }

    /// The longest one attempt may take: a send starts only with that much
    /// time left, and each further provider is tried only if its attempt
    /// still ends before `answer_by`.
    fn max_duration(&self) -> Duration {
        self.0
            .senders
            .iter()
            .map(|(_, sender)| sender.max_duration())
            .max()
            .unwrap_or_default()
    }

    fn first_choice(&self, country: &str, channel: Channel) -> Option<Provider> {
        self.0.routes.for_message(country, channel).first().copied()
    }
}

/// Any configured provider, so one route can hold them all.
pub enum ProviderSender {
    Twilio(TwilioSender),
    Plivo(PlivoSender),
    Aws(AwsSmsSender),
}

impl ProviderSender {
    /// Opens the provider's connection at cold start (failures only log).
    pub async fn warm_up(&self) {
        match self {
            ProviderSender::Twilio(twilio) => twilio.warm_up().await,
            ProviderSender::Plivo(_) | ProviderSender::Aws(_) => {}
        }
    }
}

impl MessageSender for ProviderSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<Handover, DeliveryError> {
        match self {
            ProviderSender::Twilio(twilio) => twilio.send(message).await,
            ProviderSender::Plivo(plivo) => plivo.send(message).await,
            ProviderSender::Aws(aws) => aws.send(message).await,
        }
    }

    fn max_duration(&self) -> Duration {
        match self {
            ProviderSender::Twilio(twilio) => twilio.max_duration(),
            ProviderSender::Plivo(plivo) => plivo.max_duration(),
            ProviderSender::Aws(aws) => aws.max_duration(),
        }
    }
}

/// `ProviderSends` by provider and outcome (accepted, unconfirmed, refused,
/// failed, skipped), for the dashboard's per-provider view.
fn count(provider: Provider, outcome: &'static str) {
    crate::metrics::count(
        "ProviderSends",
        &[("Provider", provider.as_str()), ("Outcome", outcome)],
    );
}

#[cfg(test)]
mod tests {
    use secrecy::SecretBox;

    use super::*;
    use crate::adapters::memory::{MemoryHealth, RecordingSender};
    use crate::domain::{BreakerPolicy, Channel, PhoneNumber, Timestamp, VerificationId};
    use crate::ports::{Content, RecipientProblem};
    use Provider::{Aws, Plivo, Twilio};

    struct Stack {
        routed: RoutedSender<RecordingSender, MemoryHealth>,
        twilio: RecordingSender,
        aws: RecordingSender,
        plivo: RecordingSender,
        health: MemoryHealth,
    }

    fn providers(routes: &str) -> Stack {
        let (twilio, aws, plivo) = Default::default();
        let health = MemoryHealth::new(BreakerPolicy::default());
        let routed = RoutedSender::new(
            vec![
                (Twilio, RecordingSender::clone(&twilio)),
                (Aws, RecordingSender::clone(&aws)),
                (Plivo, RecordingSender::clone(&plivo)),
            ],
            Routes::parse(routes).unwrap(),
            health.clone(),
        );
        Stack {
            routed,
            twilio,
            aws,
            plivo,
            health,
        }
    }

    fn message(to: &str, at: i64) -> OutgoingMessage {
        OutgoingMessage {
            answer_by: None,
            to: PhoneNumber::parse(to, None).unwrap(),
            channel: Channel::Sms,
            content: SecretBox::new(Box::new(Content::Text("Your code is 123456.".into()))),
            verification_id: VerificationId::random(),
            sent_at: Timestamp::from_unix_seconds(at),
            status_callbacks: Default::default(),
        }
    }

    fn received(stack: &Stack) -> [usize; 3] {
        [&stack.twilio, &stack.aws, &stack.plivo].map(|sender| sender.sent().len())
    }

    const US: &str = "+14155550123";

    #[tokio::test]
    async fn a_certain_failure_fails_over_and_the_next_provider_sends_once() {
        for error in [
            DeliveryError::Unavailable("503".into()),
            DeliveryError::Misconfigured("401".into()),
        ] {
            let stack = providers("*=twilio,aws");
            stack.twilio.answer_with(Err(error));
            let answer = stack.routed.dispatch(&message(US, 0)).await;
            let handover = Handover::Accepted;
            assert_eq!(
                answer,
                Ok(Dispatched {
                    provider: Aws,
                    handover
                })
            );
            assert_eq!(received(&stack), [0, 1, 0]);
        }
    }

    #[tokio::test]
    async fn maybe_sent_or_a_refused_recipient_ends_the_route() {
        let stack = providers("*=twilio,aws");
        stack.twilio.answer_with(Ok(Handover::Unconfirmed));
        let answer = stack.routed.dispatch(&message(US, 0)).await;
        let handover = Handover::Unconfirmed;
        assert_eq!(
            answer,
            Ok(Dispatched {
                provider: Twilio,
                handover
            })
        );
        assert_eq!(received(&stack), [1, 0, 0], "no second code");

        let stack = providers("*=twilio,aws");
        let refused = DeliveryError::Recipient(RecipientProblem::OptedOut);
        stack.twilio.answer_with(Err(refused.clone()));
        assert_eq!(stack.routed.dispatch(&message(US, 0)).await, Err(refused));
        assert_eq!(
            received(&stack),
            [0, 0, 0],
            "the opt-out holds for every provider"
        );
    }

    #[tokio::test]
    async fn each_country_takes_its_route() {
        let stack = providers("IN=plivo,aws;*=twilio");
        let india = stack.routed.dispatch(&message("+919876543210", 0)).await;
        assert_eq!(india.unwrap().provider, Plivo);
        assert_eq!(stack.routed.first_choice("IN", Channel::Sms), Some(Plivo));
        stack.routed.dispatch(&message(US, 0)).await.unwrap();
        assert_eq!(received(&stack), [1, 0, 1]);
    }

    #[tokio::test]
    async fn when_every_provider_fails_the_last_certain_failure_is_the_answer() {
        let stack = providers("*=twilio,aws");
        stack
            .twilio
            .answer_with(Err(DeliveryError::Unavailable("503".into())));
        stack
            .aws
            .answer_with(Err(DeliveryError::Misconfigured("denied".into())));
        let answer = stack.routed.dispatch(&message(US, 0)).await;
        assert_eq!(answer, Err(DeliveryError::Misconfigured("denied".into())));
        assert_eq!(received(&stack), [0, 0, 0]);
    }

    #[tokio::test]
    async fn an_open_breaker_skips_its_provider_until_one_probe_finds_it_back() {
        let stack = providers("*=twilio,aws");
        stack
            .twilio
            .answer_with(Err(DeliveryError::Unavailable("down".into())));
        for second in 0..5 {
            stack.routed.dispatch(&message(US, second)).await.unwrap();
        }
        assert!(stack.health.state(Twilio).is_open());
        assert_eq!(received(&stack), [0, 5, 0]);

        // Open: twilio is not even tried, though it is back.
        stack.twilio.answer_with(Ok(Handover::Accepted));
        stack.routed.dispatch(&message(US, 30)).await.unwrap();
        assert_eq!(received(&stack), [0, 6, 0]);

        // The cooldown is over: one probe goes to twilio and closes it.
        stack.routed.dispatch(&message(US, 70)).await.unwrap();
        assert_eq!(received(&stack), [1, 6, 0]);
        assert!(!stack.health.state(Twilio).is_open());
    }

    #[tokio::test]
    async fn a_provider_whose_attempt_would_outlast_the_caller_is_not_tried() {
        let stack = providers("*=twilio,aws");
        stack
            .twilio
            .answer_with(Err(DeliveryError::Unavailable("503".into())));
        let mut late = message(US, 0);
        // RecordingSender's attempts take no time: only a past deadline stops one.
        late.answer_by = Some(std::time::Instant::now());
        tokio::time::sleep(Duration::from_millis(5)).await;
        let answer = stack.routed.dispatch(&late).await;
        assert!(
            matches!(answer, Err(DeliveryError::Unavailable(_))),
            "{answer:?}"
        );
        assert_eq!(received(&stack), [0, 0, 0]);
    }

    #[tokio::test]
    async fn a_one_provider_route_never_skips_its_provider() {
        let stack = providers("*=twilio");
        stack
            .twilio
            .answer_with(Err(DeliveryError::Unavailable("down".into())));
        for second in 0..10 {
            assert!(stack.routed.dispatch(&message(US, second)).await.is_err());
        }
        stack.twilio.answer_with(Ok(Handover::Accepted));
        stack.routed.dispatch(&message(US, 11)).await.unwrap();
        assert_eq!(received(&stack), [1, 0, 0]);
        assert!(!stack.health.state(Twilio).is_open(), "never consulted");
    }
}
