//! Options of the stores: the S3 endpoint and settings, reads in flight, the feature format.

use crate::s3::S3Options;

/// How stores are reached and read: S3 endpoint and settings, reads in flight, which feature
/// files to read.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// S3 endpoint (e.g. `http://127.0.0.1:9000`); `AWS_ENDPOINT_URL` when `None`.
    pub s3_endpoint: Option<String>,
    /// Maximum requests in flight when reading many objects.
    pub concurrency: usize,
    /// S3 region, retries and timeouts.
    pub s3: S3Options,
    /// Which feature files to read from a folder holding both JSON files and a shard.
    pub feature_format: crate::FeatureFormat,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            s3_endpoint: None,
            concurrency: 64,
            s3: S3Options::default(),
            feature_format: crate::FeatureFormat::Auto,
        }
    }
}

impl StoreOptions {
    /// Options for one S3-compatible endpoint with static keys (a local server, a private
    /// cloud), the other settings at their defaults.
    ///
    /// ```
    /// use catclass_store::StoreOptions;
    /// let o = StoreOptions::s3_endpoint("http://127.0.0.1:9000", "key", "hunter2", "eu-west-1");
    /// assert_eq!(o.s3.region.as_deref(), Some("eu-west-1"));
    /// assert!(!format!("{o:?}").contains("hunter2"), "Debug hides the secret");
    /// ```
    pub fn s3_endpoint(endpoint: &str, access_key_id: &str, secret: &str, region: &str) -> Self {
        StoreOptions {
            s3_endpoint: Some(endpoint.to_string()),
            s3: S3Options {
                credentials: Some(crate::S3Credentials {
                    access_key_id: access_key_id.to_string(),
                    secret_access_key: secret.to_string(),
                    session_token: None,
                }),
                region: Some(region.to_string()),
                ..S3Options::default()
            },
            ..StoreOptions::default()
        }
    }
}
