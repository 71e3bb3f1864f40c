//! Text from outside, made storable: a job's error, a panic's message, anything a job or a
//! caller hands stoker that ends up in a text column. PostgreSQL refuses a NUL character in
//! text outright (`invalid byte sequence for encoding "UTF8": 0x00`), so one job's error
//! could otherwise fail the batch that stores it, and every outcome batched with it, for as
//! long as the batch is retried. An unbounded message would be written once per attempt.
//! API.md ("Stored text and input bounds") fixes the form: NUL becomes U+FFFD, and text over
//! 8 KiB is cut and marked.

use std::borrow::Cow;

/// The most bytes of one stored text (an error, a reason), the cut mark included.
pub(crate) const MAX_TEXT_BYTES: usize = 8 * 1024;

/// What ends a text that was cut.
const CUT_MARK: &str = "… (cut)";

/// `text` in a form every backend stores as it is: NUL replaced by U+FFFD, at most
/// [`MAX_TEXT_BYTES`] long (cut at a character boundary and ending with the cut mark).
pub(crate) fn storable(text: &str) -> Cow<'_, str> {
    let text = match text.contains('\0') {
        true => Cow::Owned(text.replace('\0', "\u{FFFD}")),
        false => Cow::Borrowed(text),
    };
    if text.len() <= MAX_TEXT_BYTES {
        return text;
    }
    let mut end = MAX_TEXT_BYTES - CUT_MARK.len();
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    Cow::Owned(format!("{}{CUT_MARK}", &text[..end]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_kept_as_it_is() {
        assert!(matches!(storable("timed out"), Cow::Borrowed("timed out")));
    }

    #[test]
    fn a_nul_character_becomes_the_replacement_character() {
        assert_eq!(storable("bad\0byte\0"), "bad\u{FFFD}byte\u{FFFD}");
    }

    #[test]
    fn long_text_is_cut_to_the_bound_and_says_so() {
        let text = "x".repeat(100_000);
        let cut = storable(&text);
        assert_eq!(cut.len(), MAX_TEXT_BYTES);
        assert!(cut.ends_with(CUT_MARK));
    }

    #[test]
    fn a_cut_never_splits_a_character() {
        // Three-byte characters do not line up with the cut point.
        let text = "€".repeat(10_000);
        let cut = storable(&text);
        assert!(cut.len() <= MAX_TEXT_BYTES);
        assert!(cut.ends_with(CUT_MARK));
        assert!(cut.trim_end_matches(CUT_MARK).chars().all(|c| c == '€'));
    }

    #[test]
    fn text_exactly_at_the_bound_is_not_cut() {
        let text = "y".repeat(MAX_TEXT_BYTES);
        assert_eq!(storable(&text), text);
    }

    #[test]
    fn cutting_twice_gives_the_same_text() {
        let once = storable(&"z".repeat(20_000)).into_owned();
        assert_eq!(storable(&once), once);
    }
}
