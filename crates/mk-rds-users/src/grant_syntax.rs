//! The words of a `SHOW GRANTS` line: [`tokenize`] splits it into words,
//! quoted names and punctuation (undoing each quoting's escapes), and a
//! [`Cursor`] walks them for [`crate::grants`]' parser.

#[derive(Debug, Clone, PartialEq)]
pub enum Tok {
    Word(String),
    Quoted(String),
    Punct(char),
}

impl Tok {
    pub fn is_word(&self, w: &str) -> bool {
        matches!(self, Tok::Word(x) if x.eq_ignore_ascii_case(w))
    }
}

pub fn tokenize(line: &str) -> Result<Vec<Tok>, ()> {
    let mut out = Vec::new();
    let mut chars = line.chars().peekable();
    while let Some(&c) = chars.peek() {
        if c.is_whitespace() {
            chars.next();
        } else if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
            let mut w = String::new();
            while let Some(&c) = chars.peek() {
                if c.is_ascii_alphanumeric() || c == '_' || c == '$' {
                    w.push(c);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push(Tok::Word(w));
        } else if c == '`' || c == '\'' || c == '"' {
            chars.next();
            let mut s = String::new();
            loop {
                match chars.next().ok_or(())? {
                    q if q == c => {
                        if chars.peek() == Some(&c) {
                            chars.next();
                            s.push(c);
                        } else {
                            break;
                        }
                    }
                    // Backticks take no escapes; strings do (SHOW GRANTS
                    // on MySQL 5.7 and in ANSI_QUOTES mode).
                    '\\' if c != '`' => match chars.next().ok_or(())? {
                        '0' => s.push('\0'),
                        'n' => s.push('\n'),
                        'r' => s.push('\r'),
                        't' => s.push('\t'),
                        'Z' => s.push('\x1a'),
                        e @ ('%' | '_') => {
                            s.push('\\');
                            s.push(e);
                        }
                        e => s.push(e),
                    },
                    ch => s.push(ch),
                }
            }
            out.push(Tok::Quoted(s));
        } else {
            out.push(Tok::Punct(c));
            chars.next();
        }
    }
    Ok(out)
}

pub struct Cursor {
    pub toks: Vec<Tok>,
    pub i: usize,
}

impl Cursor {
    pub fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.i)
    }

    pub fn next(&mut self) -> Result<Tok, ()> {
        let t = self.toks.get(self.i).cloned().ok_or(())?;
        self.i += 1;
        Ok(t)
    }

    pub fn eat_punct(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Punct(c)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub fn eat_word(&mut self, w: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_word(w)) {
            self.i += 1;
            true
        } else {
            false
        }
    }

    pub fn quoted(&mut self) -> Result<String, ()> {
        match self.next()? {
            Tok::Quoted(s) => Ok(s),
            _ => Err(()),
        }
    }

    /// `'name'@'host'` (host optional).
    pub fn account(&mut self) -> Result<(String, Option<String>), ()> {
        let name = self.quoted()?;
        let host = if self.eat_punct('@') { Some(self.quoted()?) } else { None };
        Ok((name, host))
    }

    /// A quoted name or `*`; `None` for `*`.
    pub fn name_or_star(&mut self) -> Result<Option<String>, ()> {
        match self.next()? {
            Tok::Quoted(s) => Ok(Some(s)),
            Tok::Punct('*') => Ok(None),
            _ => Err(()),
        }
    }
}
