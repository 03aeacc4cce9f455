//! catclass-store

pub mod s3;
