//! What a sent code and an approval do beyond the answer, the same whether
//! the Parse or the Verify API served them.

use crate::domain::Provider;
use crate::metrics;
use crate::proof::{Earned, ProofSigner};
use crate::service::CodeSent;

/// Codes sent and approvals per provider and country: each provider's
/// conversion where it delivers.
const PER_PROVIDER: &[&str] = &["Provider", "Country"];

/// Counts a code sent (by its provider; a test number's by none).
pub(super) fn count_sent(sent: &CodeSent) {
    metrics::count_crossed(
        "CodesSent",
        &[
            ("Country", sent.phone.region_code()),
            ("Channel", sent.channel.as_str()),
            ("Provider", provider_name(sent.provider)),
        ],
        PER_PROVIDER,
    );
}

/// Counts an approval of a code `provider` sent, and signs its proof when
/// proof tokens are on.
pub(super) fn approval_token(
    proof: Option<&ProofSigner>,
    earned: &Earned<'_>,
    provider: Option<Provider>,
) -> Option<String> {
    metrics::count_crossed(
        "Approvals",
        &[
            ("Country", earned.phone.region_code()),
            ("Provider", provider_name(provider)),
        ],
        PER_PROVIDER,
    );
    proof.map(|signer| signer.sign(earned))
}

/// `none` for a test number's code, and one stored before providers were.
fn provider_name(provider: Option<Provider>) -> &'static str {
    provider.map_or("none", Provider::as_str)
}
