//! An error and its causes on one line, for logs and for an operator's terminal.

use std::error::Error;

/// `error: cause: cause...`, leaving out a cause whose text the line already ends with: error
/// types that wrap another often print it too (sea-orm's "Connection Error: pool timed out"
/// over sqlx's "pool timed out"), and the chain then said everything two or three times.
pub fn chain(error: &(dyn Error + 'static)) -> String {
    let mut line = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !line.ends_with(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        source = cause.source();
    }
    line
}

#[cfg(test)]
mod tests {
    use super::chain;

    #[derive(Debug)]
    struct Wrap(&'static str, Option<Box<Wrap>>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            self.1.as_deref().map(|e| e as _)
        }
    }

    fn wrap(text: &'static str, cause: Option<Wrap>) -> Wrap {
        Wrap(text, cause.map(Box::new))
    }

    #[test]
    fn each_cause_once_and_repeats_left_out() {
        let repeated = wrap(
            "Connection Error: pool timed out",
            Some(wrap("pool timed out", Some(wrap("pool timed out", None)))),
        );
        assert_eq!(chain(&repeated), "Connection Error: pool timed out");
        let distinct = wrap(
            "cannot read queue",
            Some(wrap("IO error", Some(wrap("connection refused", None)))),
        );
        assert_eq!(
            chain(&distinct),
            "cannot read queue: IO error: connection refused"
        );
    }
}
