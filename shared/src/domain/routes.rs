//! Which message providers a code goes through, per destination country and
//! channel, in the order to try them (`DELIVERY_ROUTES`).
//!
//! `IN=plivo,aws;US/call=aws;*=twilio,aws`: entries separated by `;`, each
//! `COUNTRY[/channel]=provider,provider...`, where `*` is any country. A
//! message takes the most specific entry: its country and channel, its
//! country, any country with its channel, then `*`. Without an entry that
//! matches, no provider is tried, so `*` is required.

use std::collections::{BTreeMap, BTreeSet};

use super::Channel;

/// A message provider the stack can send through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Provider {
    Twilio,
    /// AWS End User Messaging SMS and Voice v2.
    Aws,
    Plivo,
}

impl Provider {
    pub const ALL: [Provider; 3] = [Provider::Twilio, Provider::Aws, Provider::Plivo];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Aws => "aws",
            Provider::Plivo => "plivo",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|provider| provider.as_str() == name)
    }
}

/// What a route entry applies to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct RouteKey {
    /// ISO 3166 region, or `None` for any country (`*`).
    country: Option<String>,
    channel: Option<Channel>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Routes(BTreeMap<RouteKey, Vec<Provider>>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoutesError {
    #[error("an entry is not COUNTRY[/channel]=provider,...: {0}")]
    Malformed(String),
    #[error("unknown provider {0} (twilio, aws, plivo)")]
    UnknownProvider(String),
    #[error("{0} is listed twice")]
    Repeated(String),
    #[error("no default entry (*=...)")]
    NoDefault,
}

impl Routes {
    /// Every message through one provider.
    pub fn only(provider: Provider) -> Self {
        Self(BTreeMap::from([(
            RouteKey {
                country: None,
                channel: None,
            },
            vec![provider],
        )]))
    }

    pub fn parse(text: &str) -> Result<Self, RoutesError> {
        let mut routes = BTreeMap::new();
        for entry in text.split(';').map(str::trim).filter(|e| !e.is_empty()) {
            let malformed = || RoutesError::Malformed(entry.to_owned());
            let (key, providers) = entry.split_once('=').ok_or_else(malformed)?;
            let (country, channel) = match key.trim().split_once('/') {
                Some((country, channel)) => (
                    country,
                    Some(channel.parse::<Channel>().map_err(|_| malformed())?),
                ),
                None => (key.trim(), None),
            };
            let country = match country {
                "*" => None,
                code if code.len() == 2 && code.bytes().all(|b| b.is_ascii_uppercase()) => {
                    Some(code.to_owned())
                }
                _ => return Err(malformed()),
            };
            let mut order = Vec::new();
            for name in providers.split(',').map(str::trim) {
                let provider = Provider::parse(name)
                    .ok_or_else(|| RoutesError::UnknownProvider(name.to_owned()))?;
                if order.contains(&provider) {
                    return Err(RoutesError::Repeated(name.to_owned()));
                }
                order.push(provider);
            }
            if routes
                .insert(RouteKey { country, channel }, order)
                .is_some()
            {
                return Err(RoutesError::Repeated(key.trim().to_owned()));
            }
        }
        let default = RouteKey {
            country: None,
            channel: None,
        };
        match routes.contains_key(&default) {
            true => Ok(Self(routes)),
            false => Err(RoutesError::NoDefault),
        }
    }

    /// The providers to try for a message to `country` by `channel`, in order.
    pub fn for_message(&self, country: &str, channel: Channel) -> &[Provider] {
        let country = Some(country.to_owned());
        [
            (country.clone(), Some(channel)),
            (country, None),
            (None, Some(channel)),
            (None, None),
        ]
        .into_iter()
        .find_map(|(country, channel)| self.0.get(&RouteKey { country, channel }))
        .map_or(&[], Vec::as_slice)
    }

    /// Every provider some route names: each must be configured.
    pub fn providers(&self) -> BTreeSet<Provider> {
        self.0.values().flatten().copied().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Provider::{Aws, Plivo, Twilio};

    #[test]
    fn the_most_specific_entry_wins() {
        let routes =
            Routes::parse("IN=plivo,aws; US/call=aws ;*/whatsapp=twilio;*=twilio,aws").unwrap();
        assert_eq!(routes.for_message("IN", Channel::Sms), [Plivo, Aws]);
        assert_eq!(routes.for_message("IN", Channel::Whatsapp), [Plivo, Aws]);
        assert_eq!(routes.for_message("US", Channel::Call), [Aws]);
        assert_eq!(routes.for_message("US", Channel::Sms), [Twilio, Aws]);
        assert_eq!(routes.for_message("FR", Channel::Whatsapp), [Twilio]);
        assert_eq!(routes.for_message("001", Channel::Sms), [Twilio, Aws]);
        assert_eq!(routes.providers(), BTreeSet::from([Twilio, Aws, Plivo]));
    }

    #[test]
    fn bad_routes_are_refused_with_their_reason() {
        let refused = |text| Routes::parse(text).unwrap_err();
        assert_eq!(refused("IN=plivo"), RoutesError::NoDefault);
        assert_eq!(refused(""), RoutesError::NoDefault);
        assert_eq!(
            refused("*=twilio,sns"),
            RoutesError::UnknownProvider("sns".into())
        );
        assert_eq!(
            refused("*=twilio,twilio"),
            RoutesError::Repeated("twilio".into())
        );
        assert_eq!(refused("*=twilio;*=aws"), RoutesError::Repeated("*".into()));
        for malformed in [
            "*",
            "in=aws;*=twilio",
            "IND=aws;*=twilio",
            "IN/fax=aws;*=twilio",
        ] {
            assert!(
                matches!(refused(malformed), RoutesError::Malformed(_)),
                "{malformed}"
            );
        }
    }

    #[test]
    fn one_provider_takes_every_message() {
        let routes = Routes::only(Twilio);
        assert_eq!(routes.for_message("IN", Channel::Call), [Twilio]);
        assert_eq!(routes, Routes::parse("*=twilio").unwrap());
    }
}
