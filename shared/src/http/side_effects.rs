//! What a sent code and an approval do beyond the answer, the same whether
//! the Parse or the Verify API served them.

use crate::metrics;
use crate::proof::{Earned, ProofSigner};
use crate::service::CodeSent;

/// Counts a code sent.
pub(super) fn count_sent(sent: &CodeSent) {
    metrics::count(
        "CodesSent",
        &[
            ("Country", sent.phone.region_code()),
            ("Channel", sent.channel.as_str()),
        ],
    );
}

/// Counts an approval, and signs its proof when proof tokens are on.
pub(super) fn approval_token(proof: Option<&ProofSigner>, earned: &Earned<'_>) -> Option<String> {
    metrics::count("Approvals", &[("Country", earned.phone.region_code())]);
    proof.map(|signer| signer.sign(earned))
}
