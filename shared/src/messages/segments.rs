//! SMS segment arithmetic (3GPP TS 23.038): a text of GSM-7 characters fits
//! 160 per segment (extension characters count twice); any other character
//! switches the whole text to UCS-2, 70 UTF-16 units per segment.

/// The GSM 03.38 default alphabet.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
                          ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Characters reached through the escape code: two septets each.
const GSM7_EXTENSION: &str = "^{}\\[~]|€\u{c}";

/// Whether `text` is billed as a single SMS.
pub fn fits_one_segment(text: &str) -> bool {
    let gsm7_septets: Option<usize> = text
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENSION.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    match gsm7_septets {
        Some(septets) => septets <= 160,
        None => text.encode_utf16().count() <= 70,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_texts_get_160_characters() {
        assert!(fits_one_segment(&"a".repeat(160)));
        assert!(!fits_one_segment(&"a".repeat(161)));
        assert!(
            fits_one_segment(&"é".repeat(160)),
            "é is in the GSM alphabet"
        );
        assert!(
            !fits_one_segment(&"€".repeat(81)),
            "extension characters count twice"
        );
        assert!(fits_one_segment(&"€".repeat(80)));
    }

    #[test]
    fn one_foreign_character_makes_it_ucs2_with_70() {
        assert!(fits_one_segment(&format!("ó{}", "a".repeat(69))));
        assert!(!fits_one_segment(&format!("ó{}", "a".repeat(70))));
        assert!(fits_one_segment(&"確".repeat(70)));
        assert!(!fits_one_segment(&"確".repeat(71)));
        // An emoji is two UTF-16 units.
        assert!(!fits_one_segment(&"😀".repeat(36)));
    }
}
