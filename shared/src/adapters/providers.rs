//! The configured message providers as one sender type, so a route can hold
//! any of them (`RoutedSender<ProviderSender, _>`).

use std::time::Duration;

use crate::adapters::twilio::TwilioSender;
use crate::ports::{DeliveryError, Handover, MessageSender, OutgoingMessage};

pub enum ProviderSender {
    Twilio(TwilioSender),
}

impl ProviderSender {
    /// Opens the provider's connection at cold start (failures only log).
    pub async fn warm_up(&self) {
        match self {
            ProviderSender::Twilio(twilio) => twilio.warm_up().await,
        }
    }
}

impl MessageSender for ProviderSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<Handover, DeliveryError> {
        match self {
            ProviderSender::Twilio(twilio) => twilio.send(message).await,
        }
    }

    fn max_duration(&self) -> Duration {
        match self {
            ProviderSender::Twilio(twilio) => twilio.max_duration(),
        }
    }
}
