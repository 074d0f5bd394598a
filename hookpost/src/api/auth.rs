//! Who is calling: an account (by its API key) or the operator (admin token).
//! API keys are looked up by their SHA-256, never stored or compared in clear.

use super::error::{ApiError, ErrorCode};
use super::AppState;
use crate::secrets::{hash_token, token_matches};
use crate::storage::Account;
use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

/// The account whose API key authorized the request.
pub struct Caller(pub Account);

/// The request carries the admin token.
pub struct Admin;

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(AUTHORIZATION)
        .ok_or(ApiError::Unauthorized {
            code: ErrorCode::MissingCredentials,
            message: "missing `Authorization: Bearer <key>` header",
        })?;
    let text = value.to_str().map_err(|_| ApiError::Unauthorized {
        code: ErrorCode::MalformedAuthorization,
        message: "malformed Authorization header",
    })?;
    // The scheme name is case-insensitive (RFC 9110, section 11.1).
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") => Ok(token.trim()),
        _ => Err(ApiError::Unauthorized {
            code: ErrorCode::MalformedAuthorization,
            message: "the Authorization header must be `Bearer <key>`",
        }),
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    /// Looks the key up by its hash, through the short-lived account cache (a
    /// rotation or settings change on this node clears it at once).
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        match state.account_by_key(hash_token(bearer(parts)?)).await? {
            Some(account) => Ok(Caller(account)),
            None => Err(ApiError::Unauthorized {
                code: ErrorCode::InvalidApiKey,
                message: "invalid API key",
            }),
        }
    }
}

impl FromRequestParts<AppState> for Admin {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        if state
            .config
            .admin_token
            .as_ref()
            .is_some_and(|t| token_matches(token, t))
        {
            Ok(Admin)
        } else {
            Err(ApiError::Unauthorized {
                code: ErrorCode::InvalidAdminToken,
                message: "invalid admin token",
            })
        }
    }
}
