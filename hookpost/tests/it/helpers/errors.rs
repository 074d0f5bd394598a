//! Checks on the API's error answers: `{"error": {"code", "message", "field"}}`,
//! the `field` key always present (null when no field is to blame).

use super::server::Answer;

/// Asserts the error shape: a code, a non-empty message and a `field` key that
/// is a string or null.
pub fn assert_error_shape(answer: &Answer) {
    let error = &answer.body["error"];
    assert!(
        error["code"].as_str().is_some_and(|c| !c.is_empty()),
        "no error code: {} {:?}",
        answer.status,
        answer.body
    );
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "no error message: {} {:?}",
        answer.status,
        answer.body
    );
    let field = error.get("field");
    assert!(
        field.is_some_and(|f| f.is_null() || f.is_string()),
        "no `field` key (string or null): {} {:?}",
        answer.status,
        answer.body
    );
}

/// Asserts `status`, the error shape, and that the field named is `field`.
pub fn assert_refused(answer: &Answer, status: u16, field: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_error_shape(answer);
    assert_eq!(answer.body["error"]["field"], field, "{:?}", answer.body);
}

/// Asserts `status`, the error shape, and that the field named starts with `prefix`.
pub fn assert_refused_under(answer: &Answer, status: u16, prefix: &str) {
    assert_eq!(answer.status, status, "{:?}", answer.body);
    assert_error_shape(answer);
    assert!(
        answer.body["error"]["field"]
            .as_str()
            .is_some_and(|f| f.starts_with(prefix)),
        "field should start with `{prefix}`: {:?}",
        answer.body
    );
}
