//! Every route the two functions serve, as in template.yaml (a test holds
//! the two to each other): data that the handlers read and `routes`
//! dispatches on, so no handler needs the dispatcher.

use super::gateway::Route;

/// `sendVerificationCode`'s routes.
pub const SEND_ROUTE: Route = ("POST", "/functions/sendVerificationCode");
pub const STATUS_ROUTE: Route = ("POST", "/twilio/status");
pub const PLIVO_STATUS_ROUTE: Route = ("POST", "/plivo/status");
/// Amazon SNS's deliveries of AWS End User Messaging's events.
pub const AWS_EVENTS_ROUTE: Route = ("POST", "/aws/events");
/// Where Plivo fetches a call's script.
pub const PLIVO_ANSWER_ROUTE: Route = ("POST", "/plivo/answer");
/// The send function's Verify route.
pub const CREATE_ROUTE: Route = ("POST", "/v2/Services/{ServiceSid}/Verifications");

/// `verifyPhoneNumber`'s routes.
pub const VERIFY_ROUTE: Route = ("POST", "/functions/verifyPhoneNumber");
pub const JWKS_ROUTE: Route = ("GET", "/.well-known/jwks.json");
/// The verify function's Verify routes.
pub const CHECK_ROUTE: Route = ("POST", "/v2/Services/{ServiceSid}/VerificationCheck");
pub const FETCH_ROUTE: Route = ("GET", "/v2/Services/{ServiceSid}/Verifications/{Sid}");
pub const UPDATE_ROUTE: Route = ("POST", "/v2/Services/{ServiceSid}/Verifications/{Sid}");
