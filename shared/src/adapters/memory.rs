//! In-memory ports with the same semantics as the DynamoDB store, for unit
//! tests of the domain rules and for benchmarks without I/O.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::domain::{PhoneNumber, Timestamp, VerificationId};
use crate::ports::{
    AttemptRefused, CountedAttempt, DeliveryError, MessageSender, NewVerification, OutgoingMessage,
    StoreError, VerificationStore,
};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Status {
    Pending,
    Approved,
    Withdrawn,
}

#[derive(Debug, Clone)]
struct Record {
    new: NewVerification,
    status: Status,
    attempts: u32,
}

/// Keyed by E.164 number like the table; one mutex makes each call atomic,
/// as each DynamoDB conditional write is.
#[derive(Debug, Default, Clone)]
pub struct InMemoryStore(Arc<Mutex<HashMap<String, Record>>>);

impl InMemoryStore {
    fn with_record<T>(&self, phone: &PhoneNumber, f: impl FnOnce(Option<&mut Record>) -> T) -> T {
        let mut records = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        f(records.get_mut(phone.as_e164()))
    }
}

impl VerificationStore for InMemoryStore {
    async fn save_new(&self, new: &NewVerification) -> Result<(), StoreError> {
        let mut records = self.0.lock().unwrap_or_else(|poison| poison.into_inner());
        records.insert(
            new.phone.as_e164().to_owned(),
            Record {
                new: new.clone(),
                status: Status::Pending,
                attempts: 0,
            },
        );
        Ok(())
    }

    async fn withdraw(&self, phone: &PhoneNumber, id: &VerificationId) -> Result<(), StoreError> {
        self.with_record(phone, |record| {
            if let Some(record) = record.filter(|r| &r.new.id == id) {
                record.status = Status::Withdrawn;
            }
        });
        Ok(())
    }

    async fn count_attempt(
        &self,
        phone: &PhoneNumber,
        now: Timestamp,
        max_attempts: u32,
    ) -> Result<Result<CountedAttempt, AttemptRefused>, StoreError> {
        Ok(self.with_record(phone, |record| {
            let record = record.ok_or(AttemptRefused::NoPendingVerification)?;
            match record.status {
                Status::Withdrawn => return Err(AttemptRefused::NoPendingVerification),
                Status::Approved => return Err(AttemptRefused::AlreadyApproved),
                Status::Pending => {}
            }
            if record.new.expires_at <= now {
                return Err(AttemptRefused::Expired);
            }
            if record.attempts >= max_attempts {
                return Err(AttemptRefused::AttemptsExhausted);
            }
            record.attempts += 1;
            Ok(CountedAttempt {
                id: record.new.id.clone(),
                code_mac: record.new.code_mac.clone(),
                key_id: record.new.key_id.clone(),
                attempts: record.attempts,
                expires_at: record.new.expires_at,
            })
        }))
    }

    async fn approve(
        &self,
        phone: &PhoneNumber,
        id: &VerificationId,
        _now: Timestamp,
    ) -> Result<bool, StoreError> {
        Ok(self.with_record(phone, |record| match record {
            Some(record) if &record.new.id == id && record.status == Status::Pending => {
                record.status = Status::Approved;
                true
            }
            _ => false,
        }))
    }
}

/// Keeps every message it is asked to send; can be told to fail.
#[derive(Debug, Default, Clone)]
pub struct RecordingSender {
    sent: Arc<Mutex<Vec<OutgoingMessage>>>,
    failure: Arc<Mutex<Option<DeliveryError>>>,
}

impl RecordingSender {
    pub fn sent(&self) -> Vec<OutgoingMessage> {
        self.sent.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Makes every later send fail with `error` (or succeed with `None`).
    pub fn fail_with(&self, error: Option<DeliveryError>) {
        *self.failure.lock().unwrap_or_else(|p| p.into_inner()) = error;
    }
}

impl MessageSender for RecordingSender {
    async fn send(&self, message: &OutgoingMessage) -> Result<(), DeliveryError> {
        if let Some(error) = self
            .failure
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
        {
            return Err(error);
        }
        self.sent
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(message.clone());
        Ok(())
    }
}
