//! catclass-exec
