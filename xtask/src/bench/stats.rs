//! Summaries of repeated measurements: the median, the range, and the table cell that shows both.

pub(super) fn median(values: &[f64]) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

fn range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    (min, max)
}

/// `1.02x [0.99-1.05]`: the median ratio and its range.
pub(super) fn ratio_cell(values: &[f64]) -> String {
    let (min, max) = range(values);
    format!("{:.2}x [{min:.2}-{max:.2}]", median(values))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
        assert!(median(&[]).is_nan());
    }

    #[test]
    fn ratio_cell_shows_median_and_range() {
        assert_eq!(ratio_cell(&[1.1, 0.9, 1.0]), "1.00x [0.90-1.10]");
    }
}
