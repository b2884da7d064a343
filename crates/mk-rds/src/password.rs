//! The master password: generated, never printed.
//!
//! RDS forbids `/`, `@`, `"` and space in a MySQL master password. The
//! punctuation here is narrower still, so the password is safe unquoted in
//! a shell, a URL's user-info, an INI file (no `%`, `#`, `;`) and JSON.

use rand::Rng;
use rand::seq::{IndexedRandom, SliceRandom};

const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &[u8] = b"0123456789";
pub const PUNCTUATION: &[u8] = b"-_.~+=^";

/// Length of a generated password (RDS MySQL allows 8 to 41).
pub const LENGTH: usize = 32;

/// Whether a character may appear in a generated password.
pub fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || (c.is_ascii() && PUNCTUATION.contains(&(c as u8)))
}

/// A fresh password: a letter first, at least one character of each
/// class, from the operating system's randomness.
pub fn generate() -> String {
    let mut rng = rand::rng();
    let all: Vec<u8> = [LOWER, UPPER, DIGITS, PUNCTUATION].concat();
    let mut rest: Vec<u8> = [LOWER, UPPER, DIGITS, PUNCTUATION]
        .iter()
        .map(|class| *class.choose(&mut rng).expect("non-empty class"))
        .collect();
    while rest.len() < LENGTH - 1 {
        rest.push(all[rng.random_range(0..all.len())]);
    }
    rest.shuffle(&mut rng);
    let letters = [LOWER, UPPER].concat();
    let first = *letters.choose(&mut rng).expect("letters");
    std::iter::once(first).chain(rest).map(char::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_alphabet_and_classes() {
        for _ in 0..200 {
            let p = generate();
            assert!((24..=32).contains(&p.len()), "{}", p.len());
            assert!(p.chars().all(allowed), "{p}");
            assert!(p.starts_with(|c: char| c.is_ascii_alphabetic()));
            assert!(p.chars().any(|c| c.is_ascii_lowercase()));
            assert!(p.chars().any(|c| c.is_ascii_uppercase()));
            assert!(p.chars().any(|c| c.is_ascii_digit()));
            assert!(p.chars().any(|c| PUNCTUATION.contains(&(c as u8))));
        }
    }

    #[test]
    fn never_what_rds_or_configs_refuse() {
        for c in ['/', '@', '"', ' ', '\'', '\\', '`', '%', '#', ';', '$', ':'] {
            assert!(!allowed(c), "{c:?}");
        }
    }

    #[test]
    fn fresh_each_time() {
        assert_ne!(generate(), generate());
    }
}
