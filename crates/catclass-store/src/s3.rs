//! S3 stores, configured from the standard AWS environment.

use crate::location::StoreOptions;
use object_store::ObjectStore;
use object_store::aws::AmazonS3Builder;
use std::sync::Arc;

/// Builds an S3 store for `bucket` from the AWS environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ALLOW_HTTP`, or the instance role), with `opts.s3_endpoint` taking precedence.
pub fn build(bucket: &str, opts: &StoreOptions) -> object_store::Result<Arc<dyn ObjectStore>> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
    let endpoint = opts
        .s3_endpoint
        .clone()
        .or_else(|| std::env::var("AWS_ENDPOINT_URL").ok());
    if let Some(endpoint) = endpoint {
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        builder = builder
            .with_endpoint(endpoint)
            .with_virtual_hosted_style_request(false);
    }
    Ok(Arc::new(builder.build()?))
}
