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
    /// The client secret of a Webex integration.
    ClientSecret,
);

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
    }
}
