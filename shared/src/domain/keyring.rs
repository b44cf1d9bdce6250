//! Secret HMAC keys with ids. The current key makes new hashes; previous keys
//! still check (or find) what they made, so a key rotates without breaking
//! what is in flight. Used for code MACs and for pseudonyms of numbers and
//! client addresses, each under keys of its own.

use std::collections::HashMap;

use secrecy::{ExposeSecret, SecretSlice};

#[derive(Debug, Clone)]
pub struct Keyring {
    id: String,
    key: SecretSlice<u8>,
    previous: HashMap<String, SecretSlice<u8>>,
}

impl Keyring {
    /// Keys shorter than this are refused by the configuration.
    pub const MIN_KEY_BYTES: usize = 32;

    pub fn new(id: impl Into<String>, key: impl Into<Vec<u8>>) -> Self {
        Self {
            id: id.into(),
            key: key.into().into(),
            previous: HashMap::new(),
        }
    }

    /// Keeps an earlier key for what it made.
    pub fn with_previous_key(mut self, id: impl Into<String>, key: impl Into<Vec<u8>>) -> Self {
        self.previous.insert(id.into(), key.into().into());
        self
    }

    pub fn current_id(&self) -> &str {
        &self.id
    }

    pub fn current(&self) -> &[u8] {
        self.key.expose_secret()
    }

    /// The key with this id, current or previous.
    pub fn get(&self, id: &str) -> Option<&[u8]> {
        if id == self.id {
            Some(self.current())
        } else {
            self.previous.get(id).map(ExposeSecret::expose_secret)
        }
    }

    /// The previous keys with their ids, in a stable order.
    pub fn previous(&self) -> impl Iterator<Item = (&str, &[u8])> {
        let mut previous: Vec<_> = self
            .previous
            .iter()
            .map(|(id, key)| (id.as_str(), key.expose_secret()))
            .collect();
        previous.sort_unstable_by_key(|(id, _)| *id);
        previous.into_iter()
    }
}
