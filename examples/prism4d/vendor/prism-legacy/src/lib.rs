//! Parser for legacy Prism input decks: `KEY = VALUE` lines, `!` starts a comment,
//! keys are case-insensitive and stored upper-case.

use std::collections::BTreeMap;

/// A parsed input deck.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Deck {
    entries: BTreeMap<String, String>,
}

impl Deck {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.entries.get(&key.to_uppercase()).map(String::as_str)
    }

    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.get(key)?.parse().ok()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// Parse a deck; the error is `(line number, message)`.
pub fn parse_deck(text: &str) -> Result<Deck, (usize, String)> {
    let mut deck = Deck::default();
    for (index, raw) in text.lines().enumerate() {
        let line = raw.split('!').next().unwrap_or_default().trim();
        if line.is_empty() {
            continue;
        }
        let (key, value) = line
            .split_once('=')
            .ok_or_else(|| (index + 1, format!("expected KEY = VALUE, got {line:?}")))?;
        let key = key.trim();
        if key.is_empty() {
            return Err((index + 1, "empty key".to_string()));
        }
        deck.entries
            .insert(key.to_uppercase(), value.trim().to_string());
    }
    Ok(deck)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_keys_and_comments() {
        let deck = parse_deck("! header\nsteps = 100\nDT=0.002 ! ps\n\n").unwrap();
        assert_eq!(deck.len(), 2);
        assert_eq!(deck.get("STEPS"), Some("100"));
        assert_eq!(deck.get_f64("dt"), Some(0.002));
        assert!(!deck.is_empty());
    }

    #[test]
    fn reports_line_numbers() {
        assert_eq!(parse_deck("a = 1\nbogus\n").unwrap_err().0, 2);
        assert_eq!(parse_deck(" = 3").unwrap_err().0, 1);
    }
}
