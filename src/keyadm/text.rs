//! Output helpers: one JSON document per line, and aligned tables whose cells are made
//! safe for a terminal ([`crate::cli::printable`]).

pub(crate) fn line(v: serde_json::Value) -> String {
    format!("{v}\n")
}

/// Rows under a header, in columns two spaces apart.
pub(crate) fn aligned(header: &[&str], rows: Vec<Vec<String>>) -> String {
    // One row per line: a cell's control characters are escaped, never printed.
    let rows: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            r.into_iter()
                .map(|c| match crate::cli::printable(&c) {
                    std::borrow::Cow::Borrowed(_) => c,
                    std::borrow::Cow::Owned(escaped) => escaped,
                })
                .collect()
        })
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut push_row = |cells: Vec<&str>| {
        let last = cells.len().saturating_sub(1);
        for (i, c) in cells.iter().enumerate() {
            out.push_str(c);
            if i < last {
                let pad = widths[i] - c.chars().count() + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    };
    push_row(header.to_vec());
    for r in &rows {
        push_row(r.iter().map(String::as_str).collect());
    }
    out
}
