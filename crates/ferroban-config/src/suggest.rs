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

/// Edit distance counting insertions, deletions, substitutions and swaps of two
/// neighbouring characters (the commonest typo) as one edit each.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    // d[i][j]: distance between the first i characters of a and the first j of b.
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
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_find_their_name_and_strangers_find_none() {
        assert_eq!(edit_distance("sshdd", "sshd"), 1);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("tset", "test"), 1, "a swap is one edit");
        let jails = ["sshd", "postfix-sasl", "recidive"];
        assert_eq!(closest("sshdd", jails), Some("sshd"));
        assert_eq!(closest("postfx-sasl", jails), Some("postfix-sasl"));
        assert_eq!(closest("Recidive", jails), Some("recidive"));
        assert_eq!(closest("nginx", jails), None);
        assert_eq!(closest("sshd", jails), None, "not itself");
    }
}
