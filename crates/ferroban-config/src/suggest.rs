//! The closest known name to a name that was not found (a jail, a filter), for
//! "did you mean" hints. Owns only the comparison: edit distance, with a bound
//! that keeps suggestions to likely typos.

/// The candidate closest to `wanted`, if one is close enough to be a typo: at most
/// one edit for names up to four characters, two for longer ones.
pub fn closest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let bound = if wanted.chars().count() <= 4 { 1 } else { 2 };
    candidates
        .into_iter()
        .filter(|c| *c != wanted)
        .map(|c| (edit_distance(&wanted.to_lowercase(), &c.to_lowercase()), c))
        .filter(|(d, _)| *d <= bound)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Levenshtein distance: insertions, deletions and substitutions of characters.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let substituted = diagonal + usize::from(ca != *cb);
            diagonal = row[j + 1];
            row[j + 1] = substituted.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name_and_strangers_find_none() {
        assert_eq!(edit_distance("sshdd", "sshd"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        let jails = ["sshd", "postfix-sasl", "recidive"];
        assert_eq!(closest("sshdd", jails), Some("sshd"));
        assert_eq!(closest("postfx-sasl", jails), Some("postfix-sasl"));
        assert_eq!(closest("Recidive", jails), Some("recidive"));
        assert_eq!(closest("nginx", jails), None);
        assert_eq!(closest("sshd", jails), None, "not itself");
    }
}
