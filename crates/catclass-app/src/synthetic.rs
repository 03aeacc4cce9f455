//! Seeded synthetic features shaped like VGG16 `fc2` outputs on Oxford-IIIT Pet: 37 breeds,
//! non-negative and sparse (ReLU), class-structured, float32 values. Used by the demo, tests
//! and benches when no real features are at hand. Generated, not real: say so when shown.
//!
//! Per dimension a base mean ~ N(-0.35, 0.6); per class 30 % of the dimensions get a shift
//! ~ N(0, 0.45); a row is `max(mean + N(0, 1), 0) * exp(N(0, 0.25)) * 1.6`, rounded to f32
//! (the recipe of the MLlib golden cases' generator). About 60 % of the values are 0.

use catclass_store::{FeatureSet, Location, StoreError, Values};
use rand_chacha::ChaCha12Rng;
use rand_core::{RngCore, SeedableRng};

/// The 37 Oxford-IIIT Pet breeds (cats capitalised, dogs in lower case, as its file names).
pub const PET_BREEDS: [&str; 37] = [
    "Abyssinian",
    "Bengal",
    "Birman",
    "Bombay",
    "British_Shorthair",
    "Egyptian_Mau",
    "Maine_Coon",
    "Persian",
    "Ragdoll",
    "Russian_Blue",
    "Siamese",
    "Sphynx",
    "american_bulldog",
    "american_pit_bull_terrier",
    "basset_hound",
    "beagle",
    "boxer",
    "chihuahua",
    "english_cocker_spaniel",
    "english_setter",
    "german_shorthaired",
    "great_pyrenees",
    "havanese",
    "japanese_chin",
    "keeshond",
    "leonberger",
    "miniature_pinscher",
    "newfoundland",
    "pomeranian",
    "pug",
    "saint_bernard",
    "samoyed",
    "scottish_terrier",
    "shiba_inu",
    "staffordshire_bull_terrier",
    "wheaten_terrier",
    "yorkshire_terrier",
];

struct Normal(ChaCha12Rng);

impl Normal {
    fn uniform(&mut self) -> f64 {
        ((self.0.next_u64() >> 11) as f64 + 0.5) * (1.0 / (1u64 << 53) as f64)
    }
    /// Box-Muller (one value per call, the sine half discarded: simple and reproducible).
    fn sample(&mut self, mean: f64, sd: f64) -> f64 {
        let (u1, u2) = (self.uniform(), self.uniform());
        mean + sd * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

/// A synthetic data set: `names[i]` (e.g. `beagle_17.jpg`) has features
/// `values[i*dim..(i+1)*dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticPets {
    /// Image-like names `<breed>_<k>.jpg`, `k` from 1.
    pub names: Vec<String>,
    /// Breed of each row.
    pub classes: Vec<String>,
    /// Values per row.
    pub dim: usize,
    /// Row-major float32 values.
    pub values: Vec<f32>,
}

/// Generates `per_class` rows of `dim` values for each of the first `breeds` breeds.
pub fn pets_like(seed: u64, breeds: usize, per_class: usize, dim: usize) -> SyntheticPets {
    let mut rng = Normal(ChaCha12Rng::seed_from_u64(seed));
    let base: Vec<f64> = (0..dim).map(|_| rng.sample(-0.35, 0.6)).collect();
    let mut out = SyntheticPets {
        names: Vec::with_capacity(breeds * per_class),
        classes: Vec::with_capacity(breeds * per_class),
        dim,
        values: Vec::with_capacity(breeds * per_class * dim),
    };
    for breed in PET_BREEDS.iter().cycle().take(breeds) {
        let mean: Vec<f64> = base
            .iter()
            .map(|b| {
                if rng.uniform() < 0.3 {
                    b + rng.sample(0.0, 0.45)
                } else {
                    *b
                }
            })
            .collect();
        for k in 1..=per_class {
            let scale = rng.sample(0.0, 0.25).exp() * 1.6;
            out.values.extend(
                mean.iter()
                    .map(|m| ((m + rng.sample(0.0, 1.0)).max(0.0) * scale) as f32),
            );
            out.names.push(format!("{breed}_{k}.jpg"));
            out.classes.push(breed.to_string());
        }
    }
    out
}

impl SyntheticPets {
    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f32] {
        &self.values[i * self.dim..(i + 1) * self.dim]
    }

    /// The rows as feature files would hold them: `<name>.json`, class, values.
    pub fn to_feature_set(&self) -> FeatureSet {
        FeatureSet {
            names: self.names.iter().map(|n| format!("{n}.json")).collect(),
            classes: self.classes.clone(),
            dim: self.dim,
            values: Values::F32(self.values.clone()),
        }
    }

    /// Writes every row as a seed feature file `<name>.json` into `loc`, `concurrency` writes
    /// in flight (on the caller's tokio runtime).
    pub async fn write_json_files(
        &self,
        loc: &Location,
        concurrency: usize,
    ) -> Result<(), StoreError> {
        self.to_feature_set()
            .write_json_files(loc, concurrency)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shaped_like_relu_features_and_reproducible() {
        let a = pets_like(7, 3, 10, 256);
        assert_eq!(a, pets_like(7, 3, 10, 256));
        assert_ne!(a.values, pets_like(8, 3, 10, 256).values);
        assert_eq!(a.values.len(), 3 * 10 * 256);
        assert!(a.values.iter().all(|v| *v >= 0.0 && v.is_finite()));
        let zeros = a.values.iter().filter(|v| **v == 0.0).count() as f64 / a.values.len() as f64;
        assert!((0.4..0.8).contains(&zeros), "zero share {zeros}");
        assert_eq!(a.classes[10], "Bengal");
        assert_eq!(a.names[10], "Bengal_1.jpg");
    }
}
