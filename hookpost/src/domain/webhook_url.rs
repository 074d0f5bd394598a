//! Webhook URLs: which schemes are allowed, how credentials in them are carried and
//! how they are masked wherever a URL is shown.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use url::Url;

/// The longest URL accepted; longer ones are refused rather than truncated.
pub const MAX_URL_LENGTH: usize = 2048;

/// A validated webhook destination: `http`, `https` or `mailto`.
///
/// It keeps the text as the customer gave it beside its parsed form: Phaxio
/// signs the callback URL exactly as configured, which normalisation (`HTTP`
/// lower-cased, `./x/..` resolved) would change, so the given text is what is
/// stored, compared and signed, and the parsed form is where requests go.
///
/// It serializes in full (storage needs the password to send Basic auth); every
/// place that shows a URL to a person goes through [`WebhookUrl::masked`], and
/// `Debug` masks too so a URL in a log line never leaks its password.
#[derive(Clone)]
pub struct WebhookUrl {
    /// The text as given, trimmed of surrounding whitespace.
    given: String,
    /// Its parsed, normalised form.
    url: Url,
}

/// Why a URL was refused, in words meant for the caller.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// Longer than [`MAX_URL_LENGTH`].
    #[error("is longer than {MAX_URL_LENGTH} characters")]
    TooLong,
    /// Not a URL at all.
    #[error("is not a valid URL: {0}")]
    Invalid(String),
    /// A scheme other than http, https or mailto.
    #[error("has scheme `{0}`; use http, https or mailto")]
    Scheme(String),
    /// An http(s) URL without a host.
    #[error("has no host")]
    NoHost,
    /// A mailto URL without an address.
    #[error("has no e-mail address after `mailto:`")]
    NoAddress,
}

impl WebhookUrl {
    /// Parses and checks a URL as a caller gave it.
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        if text.len() > MAX_URL_LENGTH {
            return Err(UrlError::TooLong);
        }
        let url = Url::parse(text.trim()).map_err(|e| UrlError::Invalid(e.to_string()))?;
        // Parsing percent-encodes (`é` becomes `%C3%A9`), so the stored form can be
        // longer than what was sent: the limit applies to what is stored.
        if url.as_str().len() > MAX_URL_LENGTH {
            return Err(UrlError::TooLong);
        }
        match url.scheme() {
            "http" | "https" if url.host().is_none() => Err(UrlError::NoHost),
            "mailto" if url.path().trim().is_empty() => Err(UrlError::NoAddress),
            "http" | "https" | "mailto" => Ok(WebhookUrl {
                given: text.trim().to_string(),
                url,
            }),
            other => Err(UrlError::Scheme(other.to_string())),
        }
    }

    /// The parsed URL, credentials included: for the sender only.
    pub fn url(&self) -> &Url {
        &self.url
    }

    /// The URL exactly as the customer gave it (trimmed), credentials
    /// included: what a provider that signs the configured URL (Phaxio) signs.
    /// Never shown to people; see [`WebhookUrl::masked`].
    pub fn as_given(&self) -> &str {
        &self.given
    }

    /// True for `mailto:` targets, which go through the SMTP relay.
    pub fn is_mailto(&self) -> bool {
        self.url.scheme() == "mailto"
    }

    /// The URL as shown to people: a password becomes `***`.
    pub fn masked(&self) -> String {
        if self.url.password().is_none() {
            return self.url.as_str().to_string();
        }
        let mut shown = self.url.clone();
        let _ = shown.set_password(Some("***"));
        shown.into()
    }

    /// The Basic-auth credentials carried in the URL, if any (percent-decoded).
    pub fn basic_auth(&self) -> Option<(String, Option<String>)> {
        let user = self.url.username();
        if user.is_empty() && self.url.password().is_none() {
            return None;
        }
        let decode = |s: &str| percent_decode(s);
        Some((decode(user), self.url.password().map(decode)))
    }

    /// The URL with credentials removed, as it is put on the wire.
    pub fn without_credentials(&self) -> Url {
        let mut bare = self.url.clone();
        let _ = bare.set_username("");
        let _ = bare.set_password(None);
        bare
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

impl std::fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WebhookUrl({})", self.masked())
    }
}

/// Two URLs are the same if they were given the same: the given text is what
/// is stored and signed, so URLs that merely normalise alike are not equal.
impl PartialEq for WebhookUrl {
    fn eq(&self, other: &Self) -> bool {
        self.given == other.given
    }
}

impl Eq for WebhookUrl {}

/// The text as given, so that it survives storage for signing.
impl Serialize for WebhookUrl {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.given)
    }
}

impl<'de> Deserialize<'de> for WebhookUrl {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        WebhookUrl::parse(&text).map_err(|e| serde::de::Error::custom(format!("URL {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_http_https_and_mailto_only() {
        assert!(WebhookUrl::parse("https://example.com/hook").is_ok());
        assert!(WebhookUrl::parse("http://127.0.0.1:9000/").is_ok());
        assert!(WebhookUrl::parse("mailto:ops@example.com").is_ok());
        assert_eq!(
            WebhookUrl::parse("ftp://example.com/"),
            Err(UrlError::Scheme("ftp".into()))
        );
        assert!(matches!(
            WebhookUrl::parse("not a url"),
            Err(UrlError::Invalid(_))
        ));
        assert_eq!(WebhookUrl::parse("mailto:"), Err(UrlError::NoAddress));
    }

    #[test]
    fn refuses_overlong_urls() {
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert_eq!(WebhookUrl::parse(&long), Err(UrlError::TooLong));
        let grows = format!("https://x.example/{}", "é".repeat(1000));
        assert!(grows.len() <= MAX_URL_LENGTH);
        assert_eq!(
            WebhookUrl::parse(&grows),
            Err(UrlError::TooLong),
            "checked after percent-encoding"
        );
    }

    #[test]
    fn masks_the_password_everywhere_it_is_shown() {
        let u = WebhookUrl::parse("https://user:s3cret@example.com/hook").unwrap();
        assert_eq!(u.masked(), "https://user:***@example.com/hook");
        assert!(!format!("{u:?}").contains("s3cret"));
        assert_eq!(u.basic_auth(), Some(("user".into(), Some("s3cret".into()))));
        assert_eq!(u.without_credentials().as_str(), "https://example.com/hook");
    }

    #[test]
    fn keeps_the_url_as_given_beside_its_normalised_form() {
        let given = "HTTP://user:pass@127.0.0.1:8080/cb/./x/../hook?b=2&a=1";
        let u = WebhookUrl::parse(&format!("  {given}\n")).unwrap();
        assert_eq!(u.as_given(), given, "trimmed, otherwise untouched");
        assert_eq!(
            u.without_credentials().as_str(),
            "http://127.0.0.1:8080/cb/hook?b=2&a=1"
        );
        assert_eq!(u.masked(), "http://user:***@127.0.0.1:8080/cb/hook?b=2&a=1");
        assert!(!format!("{u:?}").contains("pass"));
    }

    #[test]
    fn the_given_text_survives_storage_and_decides_equality() {
        let u = WebhookUrl::parse("HTTPS://Example.com/a/../hook").unwrap();
        let stored = serde_json::to_string(&u).unwrap();
        assert_eq!(stored, r#""HTTPS://Example.com/a/../hook""#);
        let read: WebhookUrl = serde_json::from_str(&stored).unwrap();
        assert_eq!(read.as_given(), u.as_given());
        assert_eq!(read, u);
        let normalised = WebhookUrl::parse("https://example.com/hook").unwrap();
        assert_eq!(normalised.url(), u.url());
        assert_ne!(
            normalised, u,
            "equal once normalised, but given differently"
        );
    }

    #[test]
    fn decodes_percent_encoded_credentials() {
        let u = WebhookUrl::parse("https://us%40er:p%2Bw%3Ad@example.com/").unwrap();
        assert_eq!(u.basic_auth(), Some(("us@er".into(), Some("p+w:d".into()))));
    }
}
