//! Consul reads HCL 1, which lets one line hold several attributes (`ports { dns = -1 http = 8500 }`)
//! and separates object items with commas; hcl-rs reads HCL 2, which wants a newline between them.
//! This rewrites such text into the HCL 2 form, leaving strings, comments and lists alone.

/// Puts each attribute of an object on its own line: braces get a newline inside them, and a comma
/// between object items, or an attribute starting on the line where another value ended, becomes one.
pub fn split_object_items(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut brackets: Vec<char> = Vec::new();
    let mut chars = text.chars().peekable();
    let mut last_significant: Option<char> = None;
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                out.push(c);
                copy_string(&mut chars, &mut out);
                last_significant = Some('"');
                continue;
            }
            '#' => {
                copy_line(c, &mut chars, &mut out);
                continue;
            }
            '/' if chars.peek() == Some(&'/') => {
                copy_line(c, &mut chars, &mut out);
                continue;
            }
            '{' => {
                brackets.push(c);
                out.push_str("{\n");
                last_significant = None;
                continue;
            }
            '}' => {
                brackets.pop();
                out.push('\n');
            }
            '[' => brackets.push(c),
            ']' => {
                brackets.pop();
            }
            ',' if brackets.last() == Some(&'{') => {
                out.push('\n');
                last_significant = None;
                continue;
            }
            _ => {}
        }
        let starts_attribute = (c.is_ascii_alphabetic() || c == '_')
            && brackets.last() == Some(&'{')
            && out.ends_with([' ', '\t'])
            && last_significant.is_some_and(ends_a_value);
        if starts_attribute {
            out.push('\n');
        }
        out.push(c);
        if c == '\n' {
            last_significant = None;
        } else if !c.is_whitespace() {
            last_significant = Some(c);
        }
    }
    out
}

/// Whether an attribute may follow this character on the same line in HCL 1.
fn ends_a_value(c: char) -> bool {
    c == '"' || c == ']' || c == '}' || c.is_ascii_alphanumeric()
}

fn copy_string(chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    let mut escaped = false;
    for c in chars.by_ref() {
        out.push(c);
        match c {
            '\\' if !escaped => escaped = true,
            '"' if !escaped => return,
            _ => escaped = false,
        }
    }
}

fn copy_line(first: char, chars: &mut std::iter::Peekable<std::str::Chars<'_>>, out: &mut String) {
    out.push(first);
    for c in chars.by_ref() {
        out.push(c);
        if c == '\n' {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split_object_items;
    use serde_json::Value;

    #[test]
    fn splits_one_line_objects_into_valid_hcl2() {
        let parsed: Value =
            hcl::from_str(&split_object_items(r#"services { name = "cfg" port = 9 }"#)).unwrap();
        assert_eq!(parsed["services"]["name"], "cfg");
        assert_eq!(parsed["services"]["port"], 9);
        let parsed: Value =
            hcl::from_str(&split_object_items("ports { dns = -1, http = 8500 }")).unwrap();
        assert_eq!(parsed["ports"]["dns"], -1);
        assert_eq!(parsed["ports"]["http"], 8500);
    }

    #[test]
    fn leaves_lists_strings_and_comments_alone() {
        let text = "tags = [\"a b\", \"c\"] # x = 1, y = 2\nname = \"p = q\"";
        assert_eq!(split_object_items(text), text);
    }
}
