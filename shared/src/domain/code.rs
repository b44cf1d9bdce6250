use rand::TryRngCore;
use rand::rngs::OsRng;
use secrecy::{ExposeSecret, SecretString};

/// Number of digits in a code: 4 to 10, 6 by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodeLength(u8);

impl CodeLength {
    pub const MIN: u8 = 4;
    pub const MAX: u8 = 10;

    pub fn new(digits: u8) -> Option<Self> {
        (Self::MIN..=Self::MAX)
            .contains(&digits)
            .then_some(Self(digits))
    }

    pub fn digits(self) -> usize {
        usize::from(self.0)
    }
}

impl Default for CodeLength {
    fn default() -> Self {
        Self(6)
    }
}

/// A one-time code: a string of ASCII digits, leading zeros kept.
///
/// `Debug` hides the digits so a code never reaches a log by accident.
#[derive(Debug, Clone)]
pub struct OneTimeCode(SecretString);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeFormatError {
    #[error("The verification code must be {expected} digits.")]
    NotDigits { expected: usize },
}

impl OneTimeCode {
    /// Draws each digit uniformly from the operating system's CSPRNG.
    ///
    /// Rejection sampling: bytes 250..=255 are discarded, so every digit
    /// value has exactly 25 of the 250 accepted byte values (no modulo bias).
    pub fn generate(length: CodeLength) -> Self {
        let random_bytes = std::iter::repeat_with(|| {
            let mut buffer = [0u8; 16];
            OsRng
                .try_fill_bytes(&mut buffer)
                .expect("the operating system's random number generator failed");
            buffer
        })
        .flatten();
        Self::from_uniform_bytes(length, random_bytes)
    }

    /// Digits from uniformly random bytes, each byte below 250 giving
    /// `byte % 10`.
    fn from_uniform_bytes(length: CodeLength, bytes: impl Iterator<Item = u8>) -> Self {
        Self(
            bytes
                .filter(|&byte| byte < 250)
                .take(length.digits())
                .map(|byte| char::from(b'0' + byte % 10))
                .collect::<String>()
                .into(),
        )
    }

    /// Accepts exactly `length` ASCII digits, ignoring surrounding spaces.
    pub fn parse(input: &str, length: CodeLength) -> Result<Self, CodeFormatError> {
        let input = input.trim();
        if input.len() == length.digits() && input.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(input.into()))
        } else {
            Err(CodeFormatError::NotDigits {
                expected: length.digits(),
            })
        }
    }

    pub fn as_str(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bytes 250..=255 would make digits 0 to 5 likelier (26 byte values
    /// each instead of 25): they are skipped, whatever comes after them.
    #[test]
    fn bytes_from_250_are_skipped_and_the_rest_give_their_last_digit() {
        let bytes = [250, 251, 255, 249, 0, 10, 99, 5, 252, 7, 8];
        let code = OneTimeCode::from_uniform_bytes(CodeLength::default(), bytes.into_iter());
        assert_eq!(code.as_str(), "900957");
    }

    #[test]
    fn length_must_be_between_4_and_10() {
        assert_eq!(CodeLength::new(3), None);
        assert_eq!(CodeLength::new(11), None);
        assert_eq!(CodeLength::new(4).map(CodeLength::digits), Some(4));
        assert_eq!(CodeLength::new(10).map(CodeLength::digits), Some(10));
        assert_eq!(CodeLength::default().digits(), 6);
    }

    #[test]
    fn generated_codes_have_the_configured_number_of_digits() {
        for digits in CodeLength::MIN..=CodeLength::MAX {
            let length = CodeLength::new(digits).unwrap();
            let code = OneTimeCode::generate(length);
            assert_eq!(code.as_str().len(), usize::from(digits));
            assert!(code.as_str().bytes().all(|b| b.is_ascii_digit()));
        }
    }

    #[test]
    fn every_position_is_uniform_over_the_ten_digits() {
        // 20,000 six-digit codes: 20,000 draws per position, 2,000 expected
        // per digit. Chi-squared with 9 degrees of freedom stays below 32
        // with probability 0.9998 for a fair generator, while a modulo bias
        // (bytes 250..=255 kept) or a constant digit exceeds it every time.
        let mut counts = [[0u32; 10]; 6];
        for _ in 0..20_000 {
            let code = OneTimeCode::generate(CodeLength::default());
            for (position, byte) in code.as_str().bytes().enumerate() {
                counts[position][usize::from(byte - b'0')] += 1;
            }
        }
        for (position, row) in counts.iter().enumerate() {
            let expected = 2_000.0;
            let chi_squared: f64 = row
                .iter()
                .map(|&n| (f64::from(n) - expected).powi(2) / expected)
                .sum();
            assert!(
                chi_squared < 32.0,
                "position {position} counts {row:?} chi2 {chi_squared}"
            );
        }
    }

    #[test]
    fn leading_zeros_are_kept() {
        let seen_leading_zero = (0..2_000)
            .map(|_| OneTimeCode::generate(CodeLength::default()))
            .any(|code| code.as_str().starts_with('0'));
        assert!(
            seen_leading_zero,
            "a leading zero should appear in ~10% of codes"
        );
        let code = OneTimeCode::parse("012345", CodeLength::default()).unwrap();
        assert_eq!(code.as_str(), "012345");
    }

    #[test]
    fn parse_accepts_only_the_configured_number_of_ascii_digits() {
        let six = CodeLength::default();
        assert!(OneTimeCode::parse(" 123456 ", six).is_ok());
        for bad in [
            "",
            "12345",
            "1234567",
            "12a456",
            "12 456",
            "１２３４５６",
            "-12345",
        ] {
            assert_eq!(
                OneTimeCode::parse(bad, six).err(),
                Some(CodeFormatError::NotDigits { expected: 6 }),
                "input {bad:?}"
            );
        }
    }

    #[test]
    fn debug_hides_the_digits() {
        let code = OneTimeCode::parse("987654", CodeLength::default()).unwrap();
        assert_eq!(
            format!("{code:?}"),
            "OneTimeCode(SecretBox<str>([REDACTED]))"
        );
    }
}
