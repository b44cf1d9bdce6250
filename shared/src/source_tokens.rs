//! Rust source read as tokens, for the tests that hold the code to rules
//! about its own text (the environment it reads, how its modules depend on
//! each other).

use std::path::Path;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Token {
    Ident(String),
    Str(String),
    Punct(char),
}

/// Rust source as identifiers, string literals and punctuation; comments,
/// whitespace, numbers, char literals and lifetimes are dropped.
pub(crate) fn tokens(source: &str) -> Vec<Token> {
    let chars: Vec<char> = source.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        if c.is_whitespace() {
            i += 1;
        } else if c == '/' && next == Some('/') {
            while i < chars.len() && chars[i] != '\n' {
                i += 1;
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < chars.len() {
                if chars[i] == '/' && chars.get(i + 1) == Some(&'*') {
                    depth += 1;
                    i += 2;
                } else if chars[i] == '*' && chars.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
        } else if c == '"' {
            let (text, end) = quoted(&chars, i + 1);
            out.push(Token::Str(text));
            i = end;
        } else if c == '\'' {
            // A char literal ('x', '\n', '\''), else a lifetime ('a).
            if next == Some('\\') {
                i += 3;
                while i < chars.len() && chars[i] != '\'' {
                    i += 1;
                }
                i += 1;
            } else if chars.get(i + 2) == Some(&'\'') {
                i += 3;
            } else {
                i += 1;
            }
        } else if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let raw = matches!(word.as_str(), "r" | "br")
                && matches!(chars.get(i), Some('"') | Some('#'));
            if raw {
                let hashes = chars[i..].iter().take_while(|&&c| c == '#').count();
                let open = i + hashes;
                let close = format!("\"{}", "#".repeat(hashes));
                let rest: String = chars[open + 1..].iter().collect();
                let len = rest.find(&close).unwrap_or(rest.len());
                out.push(Token::Str(rest[..len].to_string()));
                i = open + 1 + rest[..len].chars().count() + close.chars().count();
            } else if word == "b" && chars.get(i) == Some(&'"') {
                let (text, end) = quoted(&chars, i + 1);
                out.push(Token::Str(text));
                i = end;
            } else {
                out.push(Token::Ident(word));
            }
        } else {
            out.push(Token::Punct(c));
            i += 1;
        }
    }
    out
}

/// The text of a `"..."` literal whose content starts at `start`, and the
/// index after its closing quote.
fn quoted(chars: &[char], start: usize) -> (String, usize) {
    let mut text = String::new();
    let mut i = start;
    while i < chars.len() && chars[i] != '"' {
        if chars[i] == '\\' {
            i += 1;
        }
        if let Some(&c) = chars.get(i) {
            text.push(c);
        }
        i += 1;
    }
    (text, i + 1)
}

/// `tokens` without the items marked `#[cfg(test)]`.
pub(crate) fn without_test_items(tokens: Vec<Token>) -> Vec<Token> {
    let attribute: Vec<Token> = tokens_of_attribute();
    let mut out = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        if tokens[i..].starts_with(&attribute) {
            i += attribute.len();
            // Skip the item: up to its `;`, or its whole `{ ... }` block.
            let mut depth = 0usize;
            while i < tokens.len() {
                match tokens[i] {
                    Token::Punct(';') if depth == 0 => {
                        i += 1;
                        break;
                    }
                    Token::Punct('{') => depth += 1,
                    Token::Punct('}') => {
                        depth = depth.saturating_sub(1);
                        if depth == 0 {
                            i += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        } else {
            out.push(tokens[i].clone());
            i += 1;
        }
    }
    out
}

fn tokens_of_attribute() -> Vec<Token> {
    tokens("#[cfg(test)]")
}

/// The text of the file at `path` (a test cannot go on without it).
pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}
