//! Small vector arithmetic on coordinate vectors, including the direction between two points.

use rand::Rng;

/// Magnitudes at or below this are treated as zero to avoid dividing by (nearly) nothing.
pub(crate) const ZERO_THRESHOLD: f64 = 1.0e-6;

/// `a - b`, component by component.
pub(crate) fn difference(a: &[f64], b: &[f64]) -> Vec<f64> {
    a.iter().zip(b).map(|(x, y)| x - y).collect()
}

/// Euclidean length of `v`.
pub(crate) fn magnitude(v: &[f64]) -> f64 {
    v.iter().map(|x| x * x).sum::<f64>().sqrt()
}

/// `v + direction * amount`, component by component.
pub(crate) fn add_scaled(v: &[f64], direction: &[f64], amount: f64) -> Vec<f64> {
    v.iter()
        .zip(direction)
        .map(|(x, d)| x + d * amount)
        .collect()
}

/// Unit vector pointing from `to` towards `from`, and the distance between them.
///
/// When the points coincide there is no natural direction, so a random one is
/// drawn and the distance reported is 0.
pub(crate) fn unit_vector_away(from: &[f64], to: &[f64], rng: &mut impl Rng) -> (Vec<f64>, f64) {
    let offset = difference(from, to);
    let distance = magnitude(&offset);
    if distance > ZERO_THRESHOLD {
        return (scaled(&offset, 1.0 / distance), distance);
    }
    (random_unit_vector(offset.len(), rng), 0.0)
}

fn random_unit_vector(dimensionality: usize, rng: &mut impl Rng) -> Vec<f64> {
    let candidate: Vec<f64> = (0..dimensionality)
        .map(|_| rng.gen::<f64>() - 0.5)
        .collect();
    let length = magnitude(&candidate);
    if length > ZERO_THRESHOLD {
        return scaled(&candidate, 1.0 / length);
    }
    first_axis(dimensionality)
}

fn first_axis(dimensionality: usize) -> Vec<f64> {
    let mut axis = vec![0.0; dimensionality];
    if let Some(first) = axis.first_mut() {
        *first = 1.0;
    }
    axis
}

fn scaled(v: &[f64], factor: f64) -> Vec<f64> {
    v.iter().map(|x| x * factor).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn magnitude_is_euclidean_length() {
        assert_eq!(magnitude(&[3.0, 4.0]), 5.0);
        assert_eq!(magnitude(&[]), 0.0);
    }

    #[test]
    fn unit_vector_points_away_from_target() {
        let mut rng = StdRng::seed_from_u64(1);
        let (unit, distance) = unit_vector_away(&[4.0, 0.0], &[1.0, 0.0], &mut rng);
        assert_eq!(unit, vec![1.0, 0.0]);
        assert_eq!(distance, 3.0);
    }

    #[test]
    fn coinciding_points_get_a_random_unit_direction() {
        let mut rng = StdRng::seed_from_u64(1);
        let (unit, distance) = unit_vector_away(&[2.0, 2.0, 2.0], &[2.0, 2.0, 2.0], &mut rng);
        assert_eq!(distance, 0.0);
        assert!((magnitude(&unit) - 1.0).abs() < 1e-12);
    }

    #[test]
    fn first_axis_is_the_last_resort_direction() {
        assert_eq!(first_axis(3), vec![1.0, 0.0, 0.0]);
        assert!(first_axis(0).is_empty());
    }
}
