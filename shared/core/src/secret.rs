//! Values that must never be printed: their `Debug` is redacted and the value is reached only
//! through `.secret()`, so a stray `{:?}` in a log line or an error cannot leak them.

macro_rules! secret_newtype {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    )*};
}

secret_newtype!(
    /// A Webex OAuth access token.
    AccessToken,
    /// A Webex OAuth refresh token.
    RefreshToken,
    /// The client secret of an OAuth client (a Webex integration, an Entra app).
    ClientSecret,
    /// The key or password of a source's identity (`basic`, `api_key`).
    ApiKey,
    /// The secret our Webex webhooks sign their deliveries with.
    SigningSecret,
);

/// How a request proves who sends it. `Debug` shows the kind and the names, never a value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Credential {
    /// `Authorization: Bearer …`: Webex OAuth tokens, client-credentials tokens.
    Bearer(AccessToken),
    /// HTTP Basic with the identity's id and key (Cisco Secure Endpoint's client id and API key).
    Basic { id: String, key: ApiKey },
    /// A header of the API's own (`X-Api-Key: …`); `value` holds any prefix (`Token …`).
    Header { name: String, value: ApiKey },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let token = AccessToken::new("very-secret-value");
        assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
        assert_eq!(token.secret(), "very-secret-value");
        let nested = format!("{:?}", Some(ClientSecret::new("hunter2")));
        assert!(!nested.contains("hunter2"));
        for credential in [
            Credential::Bearer(AccessToken::new("hunter2")),
            Credential::Basic {
                id: "client".into(),
                key: ApiKey::new("hunter2"),
            },
            Credential::Header {
                name: "X-Api-Key".into(),
                value: ApiKey::new("hunter2"),
            },
        ] {
            let shown = format!("{credential:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
        }
    }
}
