//! Why a conditional write was refused, explained from the item as it was
//! (DynamoDB returns it with the failed condition).

use aws_sdk_dynamodb::types::CancellationReason;

use super::attributes::{get_n, get_n_or_zero, get_s};
use super::{APPROVED, Item, PENDING};
use crate::domain::{Channel, Limit, LimitReached, Limits, Timestamp, Window, seconds_until};
use crate::ports::{AttemptRefused, StoreError};

/// Explains a canceled send transaction from its cancellation reasons, one
/// per item in the order of `save_new`: the number, its 10-minute and daily
/// windows (the day's calls too), the client, the country's budget, the
/// global budget, the prefix's tally (never refused), and the API key's
/// ceiling when there is one. `fallback_from` as the send's.
pub(super) fn why_transaction_canceled(
    reasons: &[CancellationReason],
    fallback_from: Option<Channel>,
    now: Timestamp,
    limits: &Limits,
) -> Result<LimitReached, StoreError> {
    let failed = |index: usize| {
        reasons
            .get(index)
            .filter(|reason| reason.code() == Some("ConditionalCheckFailed"))
    };
    let counters = [
        (1, Limit::NumberSendsPer10Minutes, Window::TEN_MINUTES),
        (2, Limit::NumberSendsPerDay, Window::DAY),
        (3, Limit::ClientRequests, Window::HOUR),
        (4, Limit::MessagesPerCountryPerHour, Window::HOUR),
        (5, Limit::MessagesPerHour, Window::HOUR),
        (7, Limit::ClientRequests, Window::HOUR),
    ];
    for (index, allowance) in [
        (3, limits.client_allowance()),
        (7, limits.api_key_allowance()),
    ] {
        let Some(reason) = failed(index) else {
            continue;
        };
        // The client's (or key's) item: its requests or its sends are used up.
        let requests = match reason.item() {
            Some(item) => get_n_or_zero::<u32>(item, "hits")?,
            None => 0,
        };
        if requests < allowance.requests && failed(0).is_none() {
            return Ok(LimitReached {
                limit: Limit::ClientSends,
                retry_after_seconds: seconds_until(
                    now,
                    Window::containing(now, Window::HOUR).ends_at,
                ),
            });
        }
    }
    if let Some(reason) = failed(0) {
        let item = reason.item().ok_or_else(|| {
            StoreError::Malformed("a failed send condition returned no item".into())
        })?;
        return why_send_refused(item, fallback_from, now, limits);
    }
    // The day's item: its sends, or (a call) its calls are used up.
    if let Some(item) = failed(2).and_then(CancellationReason::item)
        && get_n_or_zero::<u32>(item, "hits")? < limits.sends_per_day
        && get_n_or_zero::<u32>(item, "calls")? >= limits.calls_per_day
    {
        return Ok(LimitReached {
            limit: Limit::NumberCallsPerDay,
            retry_after_seconds: seconds_until(now, Window::containing(now, Window::DAY).ends_at),
        });
    }
    match counters.iter().find(|(index, ..)| failed(*index).is_some()) {
        Some(&(_, limit, length)) => Ok(LimitReached {
            limit,
            retry_after_seconds: seconds_until(now, Window::containing(now, length).ends_at),
        }),
        // Canceled for another reason (a conflicting transaction): retryable.
        None => Err(StoreError::Unavailable(format!(
            "send transaction canceled: {:?}",
            reasons
                .iter()
                .map(|r| r.code().unwrap_or("None"))
                .collect::<Vec<_>>()
        ))),
    }
}

/// The lockout, if the number is locked now.
fn lockout(
    item: &Item,
    now: Timestamp,
    limits: &Limits,
) -> Result<Option<LimitReached>, StoreError> {
    if get_n_or_zero::<u32>(item, "failures")? < limits.failed_checks_before_lockout {
        return Ok(None);
    }
    let unlocks_at = Timestamp::from_unix_seconds(get_n_or_zero(item, "last_attempt_at")?)
        .plus_seconds(limits.lockout_seconds);
    Ok((unlocks_at > now).then(|| LimitReached {
        limit: Limit::NumberLocked,
        retry_after_seconds: seconds_until(now, unlocks_at),
    }))
}

/// Explains a failed send condition from the number's item as it was: for
/// the fallback of the code it holds, the wait is the fallback's.
fn why_send_refused(
    item: &Item,
    fallback_from: Option<Channel>,
    now: Timestamp,
    limits: &Limits,
) -> Result<LimitReached, StoreError> {
    if let Some(locked) = lockout(item, now, limits)? {
        return Ok(locked);
    }
    let falls_back = fallback_from.is_some_and(|from| {
        get_s(item, "channel").ok() == Some(from.as_str())
            && get_s(item, "status").ok() == Some(PENDING)
    });
    let wait = match falls_back {
        true => limits.fallback_wait_seconds(),
        false => limits.resend_cooldown_seconds,
    };
    let next_send =
        Timestamp::from_unix_seconds(get_n_or_zero(item, "last_sent_at")?).plus_seconds(wait);
    if next_send > now {
        return Ok(LimitReached {
            limit: Limit::ResendCooldown,
            retry_after_seconds: seconds_until(now, next_send),
        });
    }
    Err(StoreError::Malformed(
        "a send was refused but no limit explains it".into(),
    ))
}

/// Explains a failed attempt condition from the number's item as it was;
/// `None` when no rule refuses it (the lock's other case applies).
pub(super) fn why_attempt_refused(
    item: Option<&Item>,
    now: Timestamp,
    max_attempts: u32,
    limits: &Limits,
) -> Result<Option<AttemptRefused>, StoreError> {
    let Some(item) = item else {
        return Ok(Some(AttemptRefused::NoPendingVerification));
    };
    if let Some(locked) = lockout(item, now, limits)? {
        return Ok(Some(AttemptRefused::Locked(locked)));
    }
    // After its lifetime a code is answered as if it never existed, so that
    // no probe learns that this number asked for, or used, a code.
    let alive = Timestamp::from_unix_seconds(get_n_or_zero(item, "code_expires_at")?) > now;
    let status = get_s(item, "status")?;
    if !alive || status != PENDING {
        return Ok(Some(match status {
            APPROVED if alive => AttemptRefused::AlreadyApproved,
            _ => AttemptRefused::NoPendingVerification,
        }));
    }
    Ok(if get_n::<u32>(item, "attempts")? >= max_attempts {
        Some(AttemptRefused::AttemptsExhausted)
    } else {
        None
    })
}
