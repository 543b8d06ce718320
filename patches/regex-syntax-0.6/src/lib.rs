//! regex-syntax 0.6's `Parser::new().parse(pattern)`, answered by regex-syntax 0.8.
//!
//! `phonenumber` (libphonenumber's metadata) keeps its patterns in `regex-cache` 0.2, which
//! checks each pattern's syntax with regex-syntax 0.6 before the `regex` crate compiles it with
//! its own parser, regex-syntax 0.8. So every function linked two regex parsers and two sets
//! of Unicode tables: 0.09 MiB of the api's zipped Lambda package, measured by building it
//! without them (README, "Lambda functions").
//! The check only asks whether a pattern parses; parsing with the parser `regex` itself uses
//! answers that question for the patterns `regex` will then compile, so nothing is lost.
//!
//! The workspace's `[patch.crates-io]` puts this crate in place of regex-syntax 0.6. It
//! offers the one part of 0.6's API that regex-cache calls (`Parser::new`, `Parser::parse`
//! and the error's `Display`); a crate that needs more of 0.6 fails to compile, it does not
//! silently get 0.8's behaviour. regex-cache is the only crate here that asks for 0.6
//! (`cargo tree -i regex-syntax@0.6.99`).

pub use syntax::{Error, Parser};

#[cfg(test)]
mod tests {
    use super::Parser;

    #[test]
    fn parses_what_regex_compiles_and_names_what_it_does_not() {
        // A pattern from libphonenumber's metadata (the North American national number).
        assert!(Parser::new().parse(r"[2-9]\d{9}|3\d{6}").is_ok());
        let error = Parser::new().parse(r"(?:0|1\d").unwrap_err();
        assert!(error.to_string().contains("unclosed group"), "{error}");
    }
}
