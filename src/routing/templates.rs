//! Resource templates: which URIs a template (RFC 6570, level 1) stands for.

/// Whether `uri` fits an RFC 6570 level-1 template (`{var}` matches one or more
/// characters other than `/` … except a trailing variable, which matches the rest).
pub fn template_matches(template: &str, uri: &str) -> bool {
    let mut rest = uri;
    let mut parts = template.split('{').peekable();
    let Some(first) = parts.next() else {
        return false;
    };
    let Some(after) = rest.strip_prefix(first) else {
        return false;
    };
    rest = after;
    while let Some(part) = parts.next() {
        let Some((_, literal)) = part.split_once('}') else {
            return false;
        };
        let last = parts.peek().is_none();
        if literal.is_empty() {
            if last {
                return !rest.is_empty();
            }
            // Two variables in a row: give the first one segment.
            let end = rest.find('/').unwrap_or(rest.len());
            if end == 0 {
                return false;
            }
            rest = &rest[end..];
            continue;
        }
        match rest.find(literal) {
            Some(0) | None => return false,
            Some(i) => rest = &rest[i + literal.len()..],
        }
        if last {
            return rest.is_empty();
        }
    }
    rest.is_empty()
}
