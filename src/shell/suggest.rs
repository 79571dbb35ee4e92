//! "Did you mean …?": the nearest known name to a typo, for unknown shell commands and SMTP
//! verbs the shell does not know (`:expcet`, `RCTP`).

/// The candidate nearest to `word` by edit distance (insertions, deletions, substitutions
/// and swaps of neighbours count one each), if it is close enough to be a typo: at most one
/// edit for short words, two for longer ones. Case is ignored.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let w: Vec<char> = word.to_lowercase().chars().collect();
    let limit = if w.len() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .map(|c| {
            (
                distance(&w, &c.to_lowercase().chars().collect::<Vec<_>>()),
                c,
            )
        })
        .filter(|(d, _)| *d > 0 && *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Optimal string alignment distance (Levenshtein with adjacent swaps).
fn distance(a: &[char], b: &[char]) -> usize {
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_word() {
        let verbs = ["MAIL", "RCPT", "DATA", "QUIT", "EHLO", "HELO", "RSET"];
        assert_eq!(nearest("RCTP", verbs), Some("RCPT"));
        assert_eq!(nearest("mial", verbs), Some("MAIL"));
        assert_eq!(nearest("ehlp", verbs), Some("EHLO"));
        assert_eq!(nearest("MAIL", verbs), None, "a known word is no typo");
        assert_eq!(nearest("XCLIENT", verbs), None);
        assert_eq!(nearest("expcet", ["expect", "explain"]), Some("expect"));
        assert_eq!(nearest("clear", ["caps", "connect", "save"]), None);
        assert_eq!(nearest("ñoop", ["noop"]), Some("noop"));
    }
}
