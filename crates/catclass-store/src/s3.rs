//! S3: configuration from the standard AWS environment and command-line options, bounded
//! retries with backoff, and one-line explanations of S3 failures.

#[cfg(feature = "s3")]
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey, AwsCredential};
#[cfg(feature = "s3")]
use object_store::{
    BackoffConfig, ClientConfigKey, ObjectStore, RetryConfig, StaticCredentialProvider,
};
#[cfg(feature = "s3")]
use std::sync::Arc;
use std::time::Duration;

/// Builds an S3 store for `bucket` from the AWS environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`, `AWS_ENDPOINT_URL`,
/// `AWS_ALLOW_HTTP`, or the instance role), with `endpoint` (else `AWS_ENDPOINT_URL_S3`, else
/// `AWS_ENDPOINT_URL`) and `options` on top.
#[cfg(feature = "s3")]
pub fn build(
    bucket: &str,
    endpoint: Option<&str>,
    options: &S3Options,
) -> object_store::Result<Arc<dyn ObjectStore>> {
    let endpoint = endpoint.map(str::to_string).or_else(|| {
        std::env::var("AWS_ENDPOINT_URL_S3")
            .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
            .ok()
    });
    let store = options
        .apply(AmazonS3Builder::from_env(), bucket, endpoint.as_deref())
        .build()?;
    Ok(Arc::new(store))
}

/// How S3 requests are made: region, plain HTTP, retries and timeouts.
///
/// Everything not set here comes from the standard AWS environment, read by object_store:
/// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION` (or
/// `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL`, `AWS_ALLOW_HTTP`; without static keys the
/// credentials come from the web-identity, container or EC2/EMR instance role providers.
/// The endpoint and the read concurrency live in [`crate::StoreOptions`].
#[derive(Debug, Clone, PartialEq)]
pub struct S3Options {
    /// Static credentials that replace the environment's (for embedding and tests; the
    /// `catclass` command reads them from the environment only, never from flags).
    pub credentials: Option<S3Credentials>,
    /// The region used for signing; `None`: the environment's, else `us-east-1`.
    pub region: Option<String>,
    /// Permit plain `http://` endpoints; `None`: the environment's `AWS_ALLOW_HTTP`, or true
    /// when the endpoint itself is an `http://` URL.
    pub allow_http: Option<bool>,
    /// Retries of one request after throttling (429, `SlowDown`), 5xx, dropped connections or
    /// timeouts.
    pub max_retries: usize,
    /// No retry starts later than this after a request's first attempt.
    pub retry_timeout: Duration,
    /// First backoff; later ones grow by a factor of about two, with jitter.
    pub init_backoff: Duration,
    /// Longest backoff between two attempts.
    pub max_backoff: Duration,
    /// Limit on one HTTP request, from connecting to the end of its body.
    pub request_timeout: Duration,
    /// Limit on opening a connection.
    pub connect_timeout: Duration,
}

impl Default for S3Options {
    fn default() -> Self {
        S3Options {
            credentials: None,
            region: None,
            allow_http: None,
            max_retries: 8,
            retry_timeout: Duration::from_secs(60),
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(5),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
        }
    }
}

/// An access key, its secret and an optional session token. `Debug` hides the secret and the
/// token.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Credentials {
    /// `AWS_ACCESS_KEY_ID`.
    pub access_key_id: String,
    /// `AWS_SECRET_ACCESS_KEY`.
    pub secret_access_key: String,
    /// `AWS_SESSION_TOKEN`, for temporary credentials.
    pub session_token: Option<String>,
}

impl std::fmt::Debug for S3Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<hidden>")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "<hidden>"),
            )
            .finish()
    }
}

impl S3Options {
    /// The retry policy handed to object_store.
    #[cfg(feature = "s3")]
    pub fn retry_config(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.init_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        }
    }

    /// Applies these options, the bucket name and the endpoint (when given) to a builder,
    /// e.g. [`AmazonS3Builder::from_env`]'s.
    #[cfg(feature = "s3")]
    pub fn apply(
        &self,
        mut b: AmazonS3Builder,
        bucket: &str,
        endpoint: Option<&str>,
    ) -> AmazonS3Builder {
        b = b.with_bucket_name(bucket);
        if let Some(endpoint) = endpoint {
            // `AWS_ENDPOINT_URL_S3` would take precedence over a plain endpoint: ours wins.
            b = b
                .with_endpoint(endpoint)
                .with_config(AmazonS3ConfigKey::S3Endpoint, endpoint)
                .with_virtual_hosted_style_request(false);
        }
        if let Some(c) = &self.credentials {
            // A credential provider wins over every key and token the builder holds.
            b = b.with_credentials(Arc::new(StaticCredentialProvider::new(AwsCredential {
                key_id: c.access_key_id.clone(),
                secret_key: c.secret_access_key.clone(),
                token: c.session_token.clone(),
            })));
        }
        if let Some(region) = &self.region {
            b = b.with_region(region.clone());
        }
        let endpoint_is_http = endpoint.is_some_and(|e| e.starts_with("http://"));
        if let Some(allow) = self.allow_http.or(endpoint_is_http.then_some(true)) {
            b = b.with_allow_http(allow);
        }
        // Set client options key by key: `with_client_options` would replace the whole set,
        // dropping `AWS_ALLOW_HTTP` read from the environment.
        b.with_retry(self.retry_config())
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
                config_duration(self.request_timeout),
            )
            .with_config(
                AmazonS3ConfigKey::Client(ClientConfigKey::ConnectTimeout),
                config_duration(self.connect_timeout),
            )
    }
}

/// A duration as object_store's configuration parser reads it (`"1500ms"`).
#[cfg(feature = "s3")]
fn config_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis().max(1))
}

/// What kind of S3 failure an object_store error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum S3FailureKind {
    /// The key does not exist.
    NoSuchKey,
    /// The bucket does not exist.
    NoSuchBucket,
    /// The server refused the credentials (unknown key id, wrong secret, expired token).
    BadCredentials,
    /// The credentials are valid but lack the permission.
    AccessDenied,
    /// No credentials could be found anywhere.
    NoCredentials,
    /// The server kept asking to slow down (`503 SlowDown`, `429`) after the retries.
    Throttled,
    /// A response ended before the length it announced and the rest could not be fetched:
    /// object_store's request for the missing bytes was refused (out of range, or empty).
    ShortResponse,
    /// The server could not be reached or kept failing after the retries.
    Unavailable,
    /// Anything else.
    Other,
}

/// One S3 failure, explained on one line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Failure {
    /// Its kind.
    pub kind: S3FailureKind,
    /// The S3 error code the server sent (`NoSuchBucket`, `SignatureDoesNotMatch`, ...).
    pub code: Option<String>,
    /// A one-line explanation without the bucket and key (the caller names those).
    pub reason: String,
}

impl S3Failure {
    /// Explains an object_store error that came from an S3 request.
    pub fn explain(err: &object_store::Error) -> Self {
        let text = err.to_string();
        let code = s3_code(&text);
        let status = http_status(&text);
        let retries = retries(&text);
        use S3FailureKind as K;
        let kind = match (code.as_deref(), err) {
            (Some("NoSuchBucket"), _) => K::NoSuchBucket,
            (Some("NoSuchKey"), _) => K::NoSuchKey,
            (
                Some(
                    "InvalidAccessKeyId"
                    | "NotSignedUp"
                    | "SignatureDoesNotMatch"
                    | "ExpiredToken"
                    | "InvalidToken"
                    | "AuthorizationHeaderMalformed",
                ),
                _,
            ) => K::BadCredentials,
            (Some("AccessDenied" | "AllAccessDisabled"), _) => K::AccessDenied,
            (_, object_store::Error::NotFound { .. }) => K::NoSuchKey,
            (_, object_store::Error::Unauthenticated { .. }) => K::BadCredentials,
            (_, object_store::Error::PermissionDenied { .. }) => K::AccessDenied,
            _ if is_credential_lookup(&text) => K::NoCredentials,
            (Some(c), _) if is_throttling_code(c) => K::Throttled,
            _ if status == Some(429) => K::Throttled,
            _ if status.is_some_and(|s| s >= 500) || is_transport(err) => K::Unavailable,
            _ if is_refused_range(status, &text) => K::ShortResponse,
            _ => K::Other,
        };
        let with_code = |s: &str| match &code {
            Some(c) => format!("{s} ({c})"),
            None => s.to_owned(),
        };
        let after = match retries {
            Some(n) => format!(" after {n} retries"),
            None => String::new(),
        };
        let reason = match kind {
            K::NoSuchKey => "no such object".to_owned(),
            K::NoSuchBucket => "no such bucket".to_owned(),
            K::BadCredentials => with_code(
                "the server refused the credentials; check AWS_ACCESS_KEY_ID, \
                 AWS_SECRET_ACCESS_KEY and AWS_SESSION_TOKEN",
            ),
            K::AccessDenied => with_code("access denied"),
            K::NoCredentials => "no AWS credentials found: set AWS_ACCESS_KEY_ID and \
                                 AWS_SECRET_ACCESS_KEY, or run with an instance role"
                .to_owned(),
            K::Throttled => {
                let answer = match (status, &code) {
                    (Some(s), Some(c)) => format!("{s} {c}"),
                    (Some(s), None) => s.to_string(),
                    (None, Some(c)) => c.clone(),
                    (None, None) => "throttling".to_owned(),
                };
                match retries {
                    Some(n) => {
                        format!("throttled by the server ({answer}), gave up after {n} retries")
                    }
                    None => format!("throttled by the server ({answer})"),
                }
            }
            K::ShortResponse => format!(
                "a response ended before its announced length, and the server refused the \
                 range of the missing bytes ({}{})",
                status.unwrap_or_default(),
                code.as_deref().map(|c| format!(" {c}")).unwrap_or_default()
            ),
            K::Unavailable => match (status, transport_cause(err)) {
                (Some(s), _) => format!("{}{after}", with_code(&format!("server error {s}"))),
                (None, Some(cause)) if is_body_error(err) && cause == "timed out" => {
                    "receiving the object took longer than the request timeout; gave up after \
                     the retries"
                        .to_owned()
                }
                (None, Some(cause)) if is_body_error(err) => format!(
                    "the connection broke while receiving the object ({cause}); gave up after \
                     the retries"
                ),
                (None, Some(cause)) => match endpoint_of(&text) {
                    Some(ep) => format!("cannot reach {ep} ({cause}){after}"),
                    None => format!("cannot reach the S3 endpoint ({cause}){after}"),
                },
                (None, None) => format!("request failed{after}"),
            },
            K::Other => first_line(&text),
        };
        S3Failure { kind, code, reason }
    }
}

/// The `<Code>` of an S3 XML error body quoted in an error message.
fn s3_code(text: &str) -> Option<String> {
    let start = text.find("<Code>")? + "<Code>".len();
    let len = text[start..].find("</Code>")?;
    Some(text[start..start + len].to_owned())
}

/// The HTTP status in object_store's "non-2xx status code: 503 ..." message.
fn http_status(text: &str) -> Option<u16> {
    let marker = "status code: ";
    let start = text.find(marker)? + marker.len();
    text[start..]
        .split_whitespace()
        .next()?
        .trim_end_matches(':')
        .parse()
        .ok()
}

/// The retry count in object_store's "after N retries" message.
fn retries(text: &str) -> Option<usize> {
    let start = text.find("after ")? + "after ".len();
    let rest = &text[start..];
    let end = rest.find(" retries")?;
    rest[..end].parse().ok()
}

/// Whether the server refused a byte range: `416`, or `400` about the `Range` header (an empty
/// range, asked by object_store when a response ends early after its last byte).
fn is_refused_range(status: Option<u16>, text: &str) -> bool {
    match status {
        Some(416) => true,
        Some(400) => text.to_ascii_lowercase().contains("range"),
        _ => false,
    }
}

/// S3 error codes that ask the client to slow down.
fn is_throttling_code(code: &str) -> bool {
    matches!(
        code,
        "SlowDown"
            | "Throttling"
            | "ThrottlingException"
            | "RequestLimitExceeded"
            | "TooManyRequests"
    )
}

fn is_credential_lookup(text: &str) -> bool {
    text.contains("169.254.169.254") || text.contains("169.254.170.2")
}

/// Whether the failure came while receiving a response's body (object_store retries those
/// from the byte reached, and reports the last failure without a retry count).
fn is_body_error(err: &object_store::Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        let text = e.to_string();
        if text.contains("body error") || text.contains("error reading a body") {
            return true;
        }
        cur = e.source();
    }
    false
}

fn is_transport(err: &object_store::Error) -> bool {
    transport_cause(err).is_some()
}

/// The innermost I/O cause (connection refused, reset, timed out), if any.
fn transport_cause(err: &object_store::Error) -> Option<String> {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    let mut found = None;
    while let Some(e) = cur {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            found = Some(io_kind_text(io));
        } else if found.is_none() {
            // Causes that are not `io::Error`s: reqwest's timeout, hyper's early end.
            let text = e.to_string();
            if text == "operation timed out" {
                found = Some("timed out".to_owned());
            } else if text.contains("closed before message completed") {
                found = Some("connection closed early".to_owned());
            }
        }
        cur = e.source();
    }
    if found.is_none() {
        let text = err.to_string();
        if text.contains("operation timed out") || text.contains("TimedOut") {
            found = Some("timed out".to_owned());
        } else if text.contains("error sending request") || text.contains("connection closed") {
            found = Some("connection failed".to_owned());
        }
    }
    found
}

fn io_kind_text(io: &std::io::Error) -> String {
    use std::io::ErrorKind as E;
    match io.kind() {
        E::ConnectionRefused => "connection refused".to_owned(),
        E::ConnectionReset => "connection reset".to_owned(),
        E::ConnectionAborted => "connection aborted".to_owned(),
        E::TimedOut => "timed out".to_owned(),
        E::UnexpectedEof => "connection closed early".to_owned(),
        _ => first_line(&io.to_string()),
    }
}

/// The `scheme://host:port` of the request in object_store's "Error performing GET <url>".
fn endpoint_of(text: &str) -> Option<String> {
    let start = text.find("Error performing ")? + "Error performing ".len();
    let url = text[start..].split_whitespace().nth(1)?;
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next()?;
    Some(format!("{scheme}://{host}"))
}

fn first_line(text: &str) -> String {
    text.lines().next().unwrap_or_default().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_statuses_and_retries_are_read_from_messages() {
        let t = "Error performing GET http://h/b/k in 1ms, after 3 retries, max_retries: 3, \
                 retry_timeout: 1s  - Server returned non-2xx status code: 503 Service \
                 Unavailable: <Error><Code>SlowDown</Code></Error>";
        assert_eq!(s3_code(t).as_deref(), Some("SlowDown"));
        assert_eq!(endpoint_of(t).as_deref(), Some("http://h"));
        assert_eq!(http_status(t), Some(503));
        assert_eq!(retries(t), Some(3));
        assert_eq!(s3_code("no code here"), None);
        assert_eq!(http_status("nothing"), None);
    }

    #[test]
    fn a_slow_down_storm_is_explained_as_throttling() {
        let err = object_store::Error::Generic {
            store: "S3",
            source: "Error performing GET http://h/b/k in 1ms, after 3 retries, max_retries: 3, \
                     retry_timeout: 1s  - Server returned non-2xx status code: 503 Slow Down: \
                     <Error><Code>SlowDown</Code></Error>"
                .into(),
        };
        let failure = S3Failure::explain(&err);
        assert_eq!(failure.kind, S3FailureKind::Throttled);
        assert_eq!(
            failure.reason,
            "throttled by the server (503 SlowDown), gave up after 3 retries"
        );
    }

    #[test]
    #[cfg(feature = "s3")]
    fn explicit_http_endpoint_allows_http() {
        let b = S3Options::default().apply(AmazonS3Builder::new(), "b", Some("http://127.0.0.1:1"));
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
                .as_deref(),
            Some("true")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Endpoint).as_deref(),
            Some("http://127.0.0.1:1")
        );
        assert_eq!(
            b.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::Timeout))
                .as_deref(),
            Some("60000ms")
        );
    }

    #[test]
    #[cfg(feature = "s3")]
    fn https_endpoint_keeps_http_off_unless_asked() {
        let b = S3Options::default().apply(AmazonS3Builder::new(), "b", Some("https://s3.example"));
        assert_ne!(
            b.get_config_value(&AmazonS3ConfigKey::Client(ClientConfigKey::AllowHttp))
                .as_deref(),
            Some("true")
        );
    }
}
