//! The integration suite: both functions through their real handlers, against
//! DynamoDB Local, moto (SSM) and Twilio, Plivo, AWS and SNS fakes. One binary links once.

mod aws_events;
mod aws_sms;
mod bad_input;
mod channels;
mod concurrency;
mod delivery_reports;
mod dynamodb_faults;
mod events;
mod failover;
mod fallback;
mod faults;
mod fraud;
mod idempotency;
mod key_rotation;
mod limits;
mod operator;
mod plivo;
mod plivo_calls;
mod plivo_reports;
mod privacy;
mod proof;
mod provider_health;
mod round_trips;
mod secrets;
mod storage_failure;
mod store_contract;
mod template_wiring;
mod trust;
mod twilio;
mod verification_flow;
mod verify_v2;
