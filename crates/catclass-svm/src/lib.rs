//! catclass-svm
