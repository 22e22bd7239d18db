//! Uniform random choice of a scene, able to leave one out so "Another scene" never repeats the card on screen.

use rand::Rng;

/// A uniformly random index below `count`, never `exclude`; `None` when no index is left to choose.
pub fn random_scene(count: usize, exclude: Option<usize>, rng: &mut impl Rng) -> Option<usize> {
    match exclude {
        Some(skip) if skip < count => {
            if count < 2 {
                return None;
            }
            // Draw from the count - 1 others and step over the excluded index: still uniform.
            let draw = rng.random_range(0..count - 1);
            Some(if draw >= skip { draw + 1 } else { draw })
        }
        _ if count == 0 => None,
        _ => Some(rng.random_range(0..count)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    #[test]
    fn six_thousand_draws_cover_every_scene_evenly() {
        let mut rng = StdRng::seed_from_u64(7);
        let mut counts = [0_u32; 6];
        for _ in 0..6_000 {
            let Some(i) = random_scene(6, None, &mut rng) else {
                panic!("no scene drawn");
            };
            counts[i] += 1;
        }
        // Expected 1,000 each; a binomial sd is ~29, so ±150 is > 5 sd.
        for (scene, count) in counts.iter().enumerate() {
            assert!(
                (850..=1150).contains(count),
                "scene {scene} drawn {count} times: {counts:?}"
            );
        }
    }

    #[test]
    fn exclude_is_honoured_and_the_rest_stay_even() {
        let mut rng = StdRng::seed_from_u64(11);
        let mut counts = [0_u32; 6];
        for _ in 0..6_000 {
            let Some(i) = random_scene(6, Some(2), &mut rng) else {
                panic!("no scene drawn");
            };
            counts[i] += 1;
        }
        assert_eq!(counts[2], 0);
        for (scene, count) in counts.iter().enumerate().filter(|(s, _)| *s != 2) {
            assert!(
                (1050..=1350).contains(count),
                "scene {scene} drawn {count} times: {counts:?}"
            );
        }
    }

    #[test]
    fn edge_cases_return_nothing_rather_than_panic() {
        let mut rng = StdRng::seed_from_u64(1);
        assert_eq!(random_scene(0, None, &mut rng), None);
        assert_eq!(random_scene(1, Some(0), &mut rng), None);
        assert_eq!(random_scene(1, None, &mut rng), Some(0));
        assert_eq!(
            random_scene(3, Some(9), &mut rng).map(|i| i < 3),
            Some(true)
        );
    }
}
