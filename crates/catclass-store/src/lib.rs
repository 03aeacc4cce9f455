//! catclass-store
