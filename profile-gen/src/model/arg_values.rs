//! The algebra of recorded argument values: normalising and uniting the value sets of one
//! syscall (several architectures, runs or inputs), bounded by [`MAX_MERGED_VALUES`].

use std::collections::BTreeSet;

use crate::model::recording::ArgsSeen;

/// Unites the argument values of several records of one syscall (the same name on several
/// architectures, or several inputs): `None` when some record has none (values unknown).
pub fn union_seen<'a>(seen: impl IntoIterator<Item = &'a ArgsSeen>) -> Option<ArgsSeen> {
    let mut result: Option<ArgsSeen> = None;
    for s in seen {
        result = Some(match result {
            None => normalized(s),
            Some(r) => union_pair(&r, s),
        });
    }
    result
}

/// The most distinct tuples a merged recording keeps per syscall before it sets `overflow`;
/// the values are kept all the same.
pub const MAX_MERGED_VALUES: usize = 64;

/// `seen` with its values sorted and without duplicates, `overflow` set past
/// [`MAX_MERGED_VALUES`].
pub fn normalized(seen: &ArgsSeen) -> ArgsSeen {
    let values: BTreeSet<Vec<u64>> = seen.values.iter().cloned().collect();
    ArgsSeen {
        indexes: seen.indexes.clone(),
        overflow: seen.overflow || values.len() > MAX_MERGED_VALUES,
        values: values.into_iter().collect(),
    }
}

/// The union of two value sets; commutative and associative. Sets for different arguments
/// cannot be united: the result keeps the smaller `indexes`' values and is marked incomplete.
fn union_pair(a: &ArgsSeen, b: &ArgsSeen) -> ArgsSeen {
    use std::cmp::Ordering;
    let (values, overflow): (BTreeSet<Vec<u64>>, bool) = match a.indexes.cmp(&b.indexes) {
        Ordering::Equal => (
            a.values.iter().chain(&b.values).cloned().collect(),
            a.overflow || b.overflow,
        ),
        Ordering::Less => (a.values.iter().cloned().collect(), true),
        Ordering::Greater => (b.values.iter().cloned().collect(), true),
    };
    ArgsSeen {
        indexes: a.indexes.clone().min(b.indexes.clone()),
        overflow: overflow || values.len() > MAX_MERGED_VALUES,
        values: values.into_iter().collect(),
    }
}

/// The union of two optional value sets, where `None` means the syscall was seen without
/// argument values: with values on one side only, the values are kept and marked incomplete.
pub fn union_optional(a: Option<&ArgsSeen>, b: Option<&ArgsSeen>) -> Option<ArgsSeen> {
    match (a, b) {
        (None, None) => None,
        (Some(s), None) | (None, Some(s)) => {
            let mut s = normalized(s);
            s.overflow = true;
            Some(s)
        }
        (Some(a), Some(b)) => Some(union_pair(a, b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_support::seen;

    #[test]
    fn unions_commute_and_mark_what_is_incomplete() {
        let a = seen(&[0], &[&[2], &[1]]);
        let b = seen(&[0], &[&[3], &[1]]);
        assert_eq!(union_pair(&a, &b), union_pair(&b, &a));
        assert_eq!(union_pair(&a, &b), seen(&[0], &[&[1], &[2], &[3]]));
        assert!(union_optional(Some(&a), None).unwrap().overflow);
        assert_eq!(union_optional(None, None), None);
        let other = seen(&[1], &[&[9]]);
        assert!(union_pair(&a, &other).overflow);
        assert_eq!(union_pair(&a, &other), union_pair(&other, &a));
        let big = ArgsSeen {
            indexes: vec![1],
            values: (0..=MAX_MERGED_VALUES as u64).map(|v| vec![v]).collect(),
            overflow: false,
        };
        assert!(normalized(&big).overflow);
    }
}
